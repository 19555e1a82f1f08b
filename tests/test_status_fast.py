"""``rankinv status`` prints a large table by the fast path exactly as Rich prints it.

Oracle: Rich's own rendering of the same table (the fast path switched off), compared character for character on
names with wide characters, escaped control bytes and long cells; a table too wide for the page goes to Rich.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from rankinv.daemon import cli_status, plain_table

from rankinv.store import Candidate, Health, Snapshot

NAMES = ["grpo-{i}", "模型-{i}-运行", "run\x1b[31m-{i}", "ünïcödé-{i}", "[bold]markup[/]-{i}", "x" * 20 + "{i}"]


def _candidate(i: int, basis: str) -> Candidate:
    name = NAMES[i % len(NAMES)].format(i=i)
    return Candidate(
        subject=name, run=name, checkpoint=None if i % 3 else f"/runs/{name}/checkpoint-{i}", kind="grpo",
        step=i * 7 if i % 4 else None, status="active", job_id=str(1000 + i) if i % 5 == 0 else None,
        job_state="RUNNING" if i % 10 == 0 else None, triage_state=None, pre_rl_entropy=0.3 if i % 2 else None,
        pass1=None, headroom=1.5 * i if i % 2 else None, expected_variance=None, degenerate_fraction=None,
        flagged=False, live_entropy=0.9 / (i + 1), entropy_drop=(i % 9) / 10, zero_std_fraction=0.4,
        predicted=(i % 17) / 17 if i % 6 else None, predicted_lo=0.1 if i % 2 else None,
        predicted_hi=0.9 if i % 2 else None, basis=basis if i % 2 else "prior",
        verdict=("KILL", "WATCH", "CONTINUE")[i % 3], verdict_id=i, verdict_summary=f"because {i}",
        confidence=0.5 + (i % 5) / 10, acknowledged=False, pinned=False, opt_out=False,
    )  # fmt: skip


def _printed(snap: Snapshot, capsys: pytest.CaptureFixture[str]) -> str:
    cli_status.print_table(snap, {}, Path("/runs/ünï"), running=False, scanned=True)
    return capsys.readouterr().out


@pytest.mark.parametrize("basis", ["fitted on 12 runs (LOO Spearman 0.61, MAE 0.08)+trajectory", "b" * 150])
def test_the_fast_table_is_the_table_rich_prints(basis: str, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    snap = Snapshot(0.0, tuple(_candidate(i, basis) for i in range(130)), (), Health({}, False))
    taken: list[bool] = []
    fast = plain_table.print_plain

    def spy(*args: object) -> bool:
        taken.append(fast(*args))  # type: ignore[arg-type]
        return taken[-1]

    monkeypatch.setattr(cli_status, "print_plain", spy)
    got = _printed(snap, capsys)
    monkeypatch.setattr(cli_status, "print_plain", lambda *a: False)
    assert got == _printed(snap, capsys)
    assert taken == [len(basis) < 100]  # a 150-character basis does not fit 200 columns: Rich folds it


def test_few_rows_are_left_to_rich(capsys: pytest.CaptureFixture[str]) -> None:
    snap = Snapshot(0.0, tuple(_candidate(i, "prior") for i in range(3)), (), Health({}, False))
    from rich.console import Console

    assert not plain_table.print_plain(Console(width=200), "t", ["a"], [[c] for c in ("x", "y")])
    assert "grpo-0" in _printed(dataclasses.replace(snap), capsys)


def _status(root: Path, state: Path, *extra: str) -> dict[str, object]:
    import json

    from tests.support import daemon as D

    done = D.cli("status", str(root), "--json", "--state-dir", str(state), *extra)
    assert done.returncode == 0, done.stderr
    data: dict[str, object] = json.loads(done.stdout)
    return data


def _judged_at(root: Path, state: Path) -> dict[str, float]:
    from tests.support import daemon as D

    def read(s: object) -> dict[str, float]:
        return {r.name: v.updated_at for r in s.runs() if (v := s.latest_verdict(r.name))}  # type: ignore[attr-defined]

    return D.read(root, state, read)


def test_a_scan_judges_again_only_what_changed_and_prints_what_a_fresh_scan_prints(tmp_path: Path) -> None:
    """Oracle: a status over a fresh store (every run judged from scratch) prints the same candidates."""
    from rankinv.daemon.pipeline.ingest import Ingestor

    from rankinv.store import Store, store_path_for
    from tests.support.fakelog import append, make_run, record

    root, state = tmp_path / "root", tmp_path / "state"
    runs = [make_run(root / f"grpo-{i}") for i in range(4)]
    for i, run in enumerate(runs):
        append(run, "".join(record(s) for s in range(1, 30 + 40 * i)))
    first = _status(root, state)
    judged = _judged_at(root, state)
    assert _status(root, state)["candidates"] == first["candidates"]
    assert _judged_at(root, state) == judged  # nothing changed: nothing judged again

    append(runs[1], record(70))  # new data for one run
    with Store.open(store_path_for(root, state)) as store:
        store.set_run_flags("grpo-2", pinned="continue")  # a pin the daemon consumed without judging again
    with Store.open(store_path_for(root, state)) as store:  # a daemon killed after storing points, before judging
        Ingestor(store).ingest_run("grpo-3", runs[3]) if append(runs[3], record(200)) is None else None
    now = _status(root, state)
    again = _judged_at(root, state)
    assert again["grpo-0"] == judged["grpo-0"]
    assert all(again[r] > judged[r] for r in ("grpo-1", "grpo-2", "grpo-3"))
    fresh = _status(root, tmp_path / "fresh")  # (it knows no pin: grpo-2 is compared apart)
    shown = [[{k: v for k, v in c.items() if k != "verdict_id"} for c in data["candidates"]  # type: ignore[attr-defined]
              if c["run"] != "grpo-2"] for data in (now, fresh)]  # (row ids differ: the store keeps the history)
    assert shown[0] == shown[1]
    by_run = {c["run"]: c for c in now["candidates"]}  # type: ignore[attr-defined]
    assert by_run["grpo-2"]["verdict"] == "CONTINUE" and by_run["grpo-3"]["step"] == 200

    (tmp_path / "tau.toml").write_text("[monitor]\ntau_2 = 0.9\n")  # other rules: every run judged again
    _status(root, state, "--config", str(tmp_path / "tau.toml"))
    assert all(t > again[r] for r, t in _judged_at(root, state).items())
