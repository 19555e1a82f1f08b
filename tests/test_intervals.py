"""Every printed interval: ``±`` only when it is symmetric as printed, else ``[lo, hi]`` — in ``rankinv status``, its
JSON and the TUI's table (its detail line uses the same formatter). The expected strings are written out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rankinv.daemon import cli_status
from rankinv.tui import format as fmt
from rankinv.tui.widgets.candidates_table import CandidatesTable

from rankinv.store import ReadStore, Store
from rankinv.vocabulary import interval_text
from tests.test_tui_pilot import app_for, sync, wait_for

# (value, lo, hi) → (status text, TUI text)
CASES = {
    (0.62, 0.57, 0.67): ("0.62±0.05", "0.62±0.05"),
    (0.95, 0.88, 0.95): ("0.95 [0.88, 0.95]", "0.95 [.88,.95]"),  # clipped at the top
    (1.0, 0.77, 1.0): ("1.00 [0.77, 1.00]", "1.00 [.77,1.00]"),
    (0.62, 0.575, 0.664): ("0.62 [0.57, 0.66]", "0.62 [.57,.66]"),  # 0.045 vs 0.044: lopsided once printed
    (0.50, 0.454, 0.546): ("0.50±0.05", "0.50±0.05"),  # .45 and .55 printed: symmetric
    (0.62, None, None): ("0.62", "0.62"),
}


@pytest.mark.parametrize(("numbers", "expected"), CASES.items())
def test_the_one_formatter(numbers: tuple[float, float | None, float | None], expected: tuple[str, str]) -> None:
    assert interval_text(*numbers) == expected[0]
    assert fmt.interval(*numbers) == expected[1]


def _store(path: Path) -> Path:
    with Store.open(path) as store:
        for i, (value, lo, hi) in enumerate(CASES):
            name = f"grpo-{i}"
            store.upsert_run(name, f"/runs/{name}", kind="grpo")
            store.put_prediction(name, None, step=10, value=value, lo=lo, hi=hi, basis="prior")
    return path


def test_status_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ReadStore.open(_store(tmp_path / "store.sqlite")) as store:
        snap = store.snapshot()
    cli_status.print_table(snap, {}, tmp_path, running=True, scanned=False)
    printed = capsys.readouterr().out
    for shown, _ in CASES.values():
        assert shown in printed
    assert "±" not in "".join(line for line in printed.splitlines() if "[" in line)
    rows = cli_status.to_json(snap, {}, running=True, scanned=False)["candidates"]
    data = json.loads(json.dumps(rows))
    assert {(r["predicted"], r["predicted_lo"], r["predicted_hi"]) for r in data} == set(CASES)


@sync
async def test_tui_table_cells(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    _store(app.store_path)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await wait_for(pilot, lambda: any(c.run == "grpo-3" for c in table.shown), "the rows")
        column = [c.key for c in table.columns_shown].index("predicted")

        def cells() -> dict[str, str]:
            return {c.run: str(table.get_row(c.subject)[column]) for c in table.shown}

        # a row is listed before its cells are drawn (they are drawn with the next frame): wait for every cell
        await wait_for(pilot, lambda: all(cells().get(f"grpo-{i}") for i in range(len(CASES))), "the cells drawn")
        cells_now = cells()
        for i, (_, shown) in enumerate(CASES.values()):
            assert cells_now[f"grpo-{i}"] == shown
