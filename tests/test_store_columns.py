"""The store binds a read's columns as they are, and stores exactly what the slow path stores.

The slow path is every reader's general path (each fast path off: :func:`tests.test_ingest_fastpaths.general_paths`)
giving MetricPoints one by one, handed to the store as plain ``(step, name, value, time)`` rows, which the store
checks row by row. The fast path is the reader's columns (``Points``) bound through ``executemany`` over a ``zip``.
Both are written to real SQLite files from the real-log corpus (``tests/data/reallogs``), and the tables are compared
row for row, floats bit for bit, with each run's ``last_step``.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from rankinv.daemon.pipeline.ingest import Ingestor

from rankinv.ingest import START, Points, Source, open_source
from rankinv.ingest.columns import Columns, layout
from rankinv.metrics import MetricPoint
from rankinv.store import Store
from tests.test_ingest_fastpaths import general_paths  # noqa: F401  (the fixture, used by name)
from tests.test_reallogs import CASES, CORPUS

LOGS = [("stdout.out", "pydict"), ("stdout.out", "console"), ("rankinv.jsonl", "jsonl"),
        ("trainer_state.json", "trainer_state")]  # fmt: skip
FOLLOWED = ("entropy", "reward_mean", "frac_reward_zero_std")


def _bits(x: float | None) -> bytes | None:
    return None if x is None else struct.pack("<d", x)


def _table(store: Store) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every stored point (run, name, step, value bits, value type, time bits) and every run's last step."""
    rows = store.conn.execute("SELECT r.name, m.name, m.step, m.value, typeof(m.value), m.time FROM metrics m "
                              "JOIN runs r ON r.id = m.run_id ORDER BY r.name, m.name, m.step").fetchall()  # fmt: skip
    points = [(run, name, step, _bits(value), kind, _bits(time)) for run, name, step, value, kind, time in rows]
    return points, store.conn.execute("SELECT name, last_step FROM runs ORDER BY name").fetchall()


def _open(path: Path, runs: list[str]) -> Store:
    store = Store.open(path)
    for run in runs:
        store.upsert_run(run, f"/runs/{run}", kind="grpo")
    return store


def _reads() -> list[tuple[str, Path, str]]:
    return [(f"{case}:{fmt}", CORPUS / case / name, fmt) for case in CASES for name, fmt in LOGS]


def _fast_reads() -> list[tuple[str, str, Points]]:
    out = []
    for run, path, fmt in _reads():
        found, _ = open_source(path, run, fmt).read_new(START)
        out.append((run, fmt, found))
    return out


def _slow_rows() -> list[tuple[str, str, list[tuple[int, str, float, float | None]]]]:
    out = []
    for run, path, fmt in _reads():
        found, _ = open_source(path, run, fmt).read_new(START)
        out.append((run, fmt, [(p.step, p.name, p.value, p.time) for p in list(found)]))
    return out


RUNS = [run for run, _, _ in _reads()]


@pytest.fixture
def slow(request: pytest.FixtureRequest) -> list[tuple[str, str, list[tuple[int, str, float, float | None]]]]:
    """The corpus read by the general paths, as plain rows (computed before the fast reads undo the fixture)."""
    fast = _fast_reads()  # read first: the fixture below switches the fast paths off for the rest of the test
    request.getfixturevalue("general_paths")
    rows = _slow_rows()
    request.node.fast_reads = fast
    return rows


def test_corpus_columns_store_what_the_slow_path_stores(tmp_path: Path, slow: list, request: pytest.FixtureRequest
                                                        ) -> None:  # fmt: skip
    fast: list[tuple[str, str, Points]] = request.node.fast_reads
    assert sum(1 for _, _, p in fast for part in p.parts(0) if part.plain) >= len(CASES)  # columns really bound
    with _open(tmp_path / "fast.sqlite", RUNS) as a, _open(tmp_path / "slow.sqlite", RUNS) as b:
        for (run, fmt, points), (slow_run, _, rows) in zip(fast, slow, strict=True):
            assert run == slow_run and rows, run
            assert a.ingest(run, run, fmt, "{}", points) == b.ingest(run, run, fmt, "{}", rows) == len(rows)
        assert _table(a) == _table(b)
        assert len(_table(a)[0]) > 5000


def test_corpus_columns_in_one_batch_store_what_the_slow_path_stores(
    tmp_path: Path, slow: list,
    request: pytest.FixtureRequest,
) -> None:
    """``ingest_many`` (the daemon's batch: every log's points in one statement) binds the columns of many runs."""
    fast: list[tuple[str, str, Points]] = request.node.fast_reads
    with _open(tmp_path / "fast.sqlite", RUNS) as a, _open(tmp_path / "slow.sqlite", RUNS) as b:
        a.ingest_many([(run, run, fmt, "{}", points) for run, fmt, points in fast])
        b.ingest_many([(run, run, fmt, "{}", rows) for run, fmt, rows in slow])
        assert _table(a) == _table(b)
        offsets = a.conn.execute("SELECT COUNT(*) FROM offsets").fetchone()[0]
        assert offsets == len(fast)


@pytest.mark.parametrize(("run", "path", "fmt"), _reads())
def test_followed_rows_are_the_rows_of_those_metrics(run: str, path: Path, fmt: str) -> None:
    """What the live monitors are fed (picked from the columns) is the full rows filtered, in log order."""
    found, _ = open_source(path, run, fmt).read_new(START)
    every = [(p.step, p.name, p.value, p.time) for p in list(found)]
    picked = found.rows(FOLLOWED)
    assert [tuple(map(_bits_or, r)) for r in picked] == [tuple(map(_bits_or, r)) for r in every if r[1] in FOLLOWED]
    assert list(map(_bits, found.values())) == [_bits(r[2]) for r in every]


def _bits_or(x: object) -> object:
    return _bits(x) if isinstance(x, float) else x


def _columns(values: list[dict[str, float]], steps: list[int], times: list[float | None]) -> Columns:
    shapes = [layout(tuple(v)) for v in values]
    assert None not in shapes
    return Columns(steps, times, values, shapes)  # type: ignore[arg-type]


def test_special_values_bound_from_columns_store_as_checked_rows(tmp_path: Path) -> None:
    """NaN (SQLite itself stores a bound NaN as NULL), ±Inf, -0.0, times and none, a step key dropped, columns
    between points made one by one; the last step is the last point's."""
    nan, inf = math.nan, math.inf
    points = Points("r", [MetricPoint("r", 3, "loss", 0.5, 1.0)])
    points.add_columns(_columns([{"loss": nan, "entropy": -0.0}, {"step": 9.0, "kl": inf, "epoch": 0.1}],
                                [5, 9], [None, 2.5]))  # fmt: skip
    points.extend([MetricPoint("r", 7, "kl", -inf, None)])
    points.add_columns(_columns([{"reward": 1e-300}], [4], [None]))
    rows = [(p.step, p.name, p.value, p.time) for p in list(points)]
    assert len(rows) == 7
    with _open(tmp_path / "a.sqlite", ["r"]) as a, _open(tmp_path / "b.sqlite", ["r"]) as b:
        assert a.add_metrics("r", points) == b.add_metrics("r", rows) == 7
        assert _table(a) == _table(b)
        stored = a.conn.execute("SELECT step, name, value FROM metrics WHERE value IS NULL").fetchall()
        assert stored == [(5, "loss", None)]
        assert a.conn.execute("SELECT last_step FROM runs").fetchone()[0] == 4


def test_the_daemon_ingestor_stores_and_feeds_the_same_both_ways(tmp_path: Path, slow: list,
                                                                 request: pytest.FixtureRequest) -> None:  # fmt: skip
    """The daemon's ingestion, one read at a time and deferred into one batch (the reads made with the fast paths
    on, before the fixture switched them off): the store equals the slow path's, and the live monitors get the rows
    of the metrics they follow, in order."""
    fed: dict[str, list[tuple[int, str, float, float | None]]] = {}

    def stored(run: str, rows: list[tuple[int, str, float, float | None]]) -> None:
        fed.setdefault(run, []).extend(rows)

    with _open(tmp_path / "slow.sqlite", RUNS) as b:
        for run, fmt, rows in slow:
            b.ingest(run, run, fmt, "{}", rows)
        expected = _table(b)
    fast: list[tuple[str, str, Points]] = request.node.fast_reads
    with _open(tmp_path / "fast.sqlite", RUNS) as a:
        ingestor = Ingestor(a, stored=stored, followed=FOLLOWED)
        with a.transaction(), ingestor.deferred():
            for run, fmt, points in fast[: len(fast) // 2]:
                ingestor.pending[run] = (run, fmt, START, points)
                ingestor.pending_points += len(points)
        for run, fmt, points in fast[len(fast) // 2 :]:
            a.ingest(run, run, fmt, "{}", points)
            ingestor._written(run, run, START, points)
        assert _table(a) == expected
    for run, _, rows in slow:
        expected_rows = [tuple(map(_bits_or, r)) for r in rows if r[1] in FOLLOWED]
        assert [tuple(map(_bits_or, r)) for r in fed.get(run, [])] == expected_rows, run
    assert sum(map(len, fed.values())) > 500


def test_an_appended_read_through_the_ingestor_is_stored_once(tmp_path: Path) -> None:
    """Two reads of one log queued in one batch are written as one read (the second's columns after the first's)."""
    log = tmp_path / "run" / "rankinv.jsonl"
    log.parent.mkdir()
    source = (CORPUS / CASES[0] / "rankinv.jsonl").read_text().splitlines(keepends=True)
    half = len(source) // 2
    log.write_text("".join(source[:half]))
    with _open(tmp_path / "a.sqlite", ["r"]) as a, _open(tmp_path / "b.sqlite", ["r"]) as b:
        ingestor = Ingestor(a)
        src = Source(log, "jsonl")
        with a.transaction(), ingestor.deferred():
            first = ingestor.ingest_source("r", src)
            with log.open("a") as f:
                f.write("".join(source[half:]))
            second = ingestor.ingest_source("r", src)
        found, _ = open_source(log, "r", "jsonl").read_new(START)
        rows = [(p.step, p.name, p.value, p.time) for p in list(found)]
        assert first + second == b.add_metrics("r", rows) == len(rows) > 0
        assert _table(a)[0] == _table(b)[0]


@pytest.mark.parametrize("odd", [None, MetricPoint("r", 2**60, "big", 1.0), MetricPoint("r", 8, "count", 3)])
def test_points_made_one_by_one_store_as_checked_rows(tmp_path: Path, odd: MetricPoint | None) -> None:
    """Made points are bound from their fields when every step is a plain int and every value a float, else
    checked row by row (a step past 2^53, an int value): the table is the same either way."""
    made = [MetricPoint("r", i, "loss", v, 1.0 + i) for i, v in enumerate([0.5, math.nan, -0.0, math.inf, 1e-300])]
    points = Points("r", made + ([odd] if odd is not None else []))
    parts = list(points.parts(1))
    assert [p.plain for p in parts] == [odd is None]
    rows = [(p.step, p.name, p.value, p.time) for p in list(points)]
    with _open(tmp_path / "a.sqlite", ["r"]) as a, _open(tmp_path / "b.sqlite", ["r"]) as b:
        assert a.add_metrics("r", points) == b.add_metrics("r", rows) == len(rows)
        assert _table(a) == _table(b)
