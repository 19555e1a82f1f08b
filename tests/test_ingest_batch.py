"""The points a read hands over as columns (``Points``) are the trainer's own numbers, as rows and as MetricPoints.

Oracles are the trainer's files read with :mod:`json` alone (``trainer_state.json``'s ``log_history``, the
callback's ``rankinv.jsonl``), never rankinv's parser; the rows the daemon stores (``Points.rows``) must equal the
MetricPoints made one by one from the same read, value for value, bit for bit.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from rankinv.ingest import START, Points, open_source
from rankinv.ingest.columns import Columns
from rankinv.metrics import MetricPoint, canonical_name
from tests.test_reallogs import CASES, CORPUS, state_points

Row = tuple[object, ...]


def _bits(row: tuple[int, str, float, float | None]) -> Row:
    step, name, value, time = row
    return step, name, struct.pack("<d", value), None if time is None else struct.pack("<d", time)


def _as_rows(points: Points) -> list[Row]:
    return [_bits((p.step, p.name, p.value, p.time)) for p in points]


def _jsonl_points(case: str) -> dict[tuple[int, str], tuple[float, float | None]]:
    """(step, canonical name) → (value, time) of every number the callback logged, read with json alone."""
    out = {}
    for line in (CORPUS / case / "rankinv.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key, value in record["logs"].items():
            if key != "epoch" and isinstance(value, int | float):
                out[(record["step"], canonical_name(key))] = (float(value), record.get("time"))
    return out


@pytest.mark.parametrize("case", CASES)
def test_trainer_state_rows_are_the_logged_history(case: str) -> None:
    found, _ = open_source(CORPUS / case / "trainer_state.json", case, "trainer_state").read_new(START)
    assert isinstance(found, Points) and len(found) > 0
    rows = found.rows()
    assert [_bits(r) for r in rows] == _as_rows(found)  # the rows are the points
    assert {(s, n): v for s, n, v, _ in rows} == state_points(case)
    assert len({(s, n) for s, n, _, _ in rows}) == len(rows)


@pytest.mark.parametrize("case", CASES)
def test_jsonl_rows_are_the_callbacks_records(case: str) -> None:
    found, _ = open_source(CORPUS / case / "rankinv.jsonl", case, "jsonl").read_new(START)
    rows = found.rows()
    assert len(rows) == len(found) > 0 and [_bits(r) for r in rows] == _as_rows(found)
    logged = {(s, n): (v, t) for s, n, v, t in rows if n != "epoch"}
    expected = _jsonl_points(case)
    assert logged.keys() == expected.keys()
    for key, (value, time) in expected.items():
        got = logged[key]
        assert got[1] == time and (got[0] == value or (math.isnan(got[0]) and math.isnan(value))), key


@pytest.mark.parametrize("fmt", ["verl_console", "console"])
def test_verl_rows_mixing_columns_and_single_lines_are_the_values_written(fmt: str, tmp_path: Path) -> None:
    """A block read as columns, then an unusual line read on its own, then columns again: in the order written."""
    lines, expected = [], []
    for step in range(1, 4000):
        entropy, reward = step / 7, (-1) ** step * step / 3
        if step == 2000:  # a NaN: the pair-by-pair path for its piece
            lines.append(f"step:{step} - actor/entropy:nan - critic/score/mean:np.float64({reward!r})")
            expected += [(step, "entropy", math.nan), (step, "reward_mean", reward)]
            continue
        lines.append(f"step:{step} - actor/entropy:np.float64({entropy!r}) - critic/score/mean:{reward!r}")
        expected += [(step, "entropy", entropy), (step, "reward_mean", reward)]
    path = tmp_path / "verl.log"
    path.write_text("\n".join(lines) + "\n")
    found, _ = open_source(path, "r", fmt).read_new(START)
    if fmt == "verl_console":  # both paths taken (the console reader reads such a block segment by segment)
        assert {type(chunk) for chunk in found._chunks} == {Columns, list}
    rows = found.rows()
    assert [_bits(r) for r in rows] == _as_rows(found)
    assert [_bits((s, n, v, None)) for s, n, v in expected] == [_bits(r) for r in rows]


def test_points_behave_as_the_list_of_their_metric_points() -> None:
    made = [MetricPoint("r", 1, "loss", 0.5), MetricPoint("r", 2, "loss", 0.25, 7.0)]
    points = Points("r", made[:1])
    points.extend(made[1:])
    assert len(points) == 2 and list(points) == made and points == made and points[1] == made[1]
    assert points[:1] == made[:1] and points.rows() == [(1, "loss", 0.5, None), (2, "loss", 0.25, 7.0)]
    assert points != made[:1] and Points("r") == [] and not Points("r")


@pytest.mark.parametrize("timed", [True, False], ids=["with-time", "no-time"])
def test_a_one_record_read_gives_the_rows_and_bound_rows_of_its_points(tmp_path: Path, timed: bool) -> None:
    """The daemon's usual read is one record (its own short path): its rows, its rows of a few metrics and the rows
    the store binds are the MetricPoints made one by one, and the numbers json reads in the line; an eval record
    (its ``epoch`` is no point) too."""
    log = tmp_path / "rankinv.jsonl"
    records = [{"step": 3, "logs": {"loss": 0.125, "entropy": 1.5, "reward": 0.25, "grad_norm": 0.75}},
               {"step": 4, "logs": {"eval_loss": 0.5, "epoch": 1.0, "eval_reward": 0.375}}]  # fmt: skip
    offset = START
    for record in records:
        if timed:
            record["time"] = 1.7e9 + record["step"]  # type: ignore[operator]
        with log.open("a") as f:
            f.write(json.dumps(record) + "\n")
        found, offset = open_source(log, "r", "jsonl").read_new(offset)
        assert any(isinstance(c, Columns) and len(c.rows) == 1 for c in found._chunks)  # the one-record path
        logged = [(record["step"], canonical_name(k), float(v), record.get("time")) for k, v in record["logs"].items()
                  if k != "epoch"]  # fmt: skip
        assert [_bits(r) for r in found.rows()] == _as_rows(found) == [_bits(r) for r in logged]  # type: ignore[arg-type]
        wanted = {canonical_name("entropy"), canonical_name("eval_reward"), "loss"}
        assert found.rows(wanted) == [r for r in logged if r[1] in wanted]
        bound = [row for part in found.parts(42) for row in part.rows]
        assert bound == [(42, name, step, value, time) for step, name, value, time in logged]
        assert [p.size for p in found.parts(42)] == [len(logged)]
        assert [p.last_step for p in found.parts(42)] == [record["step"]]
