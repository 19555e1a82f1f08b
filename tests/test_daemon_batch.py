"""A batch of appends is written as one: the same three statements for 5 runs or 50, each run's failure its own.

Counted (statements issued to SQLite, opens of logs), never timed; the stored points are checked against the
lines written (the oracle: what the test appended).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon.pipeline.health import Health
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.pipeline.triage import TriageStage

from rankinv.config import Config
from rankinv.ingest import START, open_source
from rankinv.ingest.kept import KeptFiles
from rankinv.store import Store
from tests.support.pipeline import NoWatch, count_statements


def _line(step: int) -> str:
    return json.dumps({"step": step, "logs": {"entropy": 1.0 / step, "reward": 0.5, "kl": 0.01}}) + "\n"


def _pipeline(tmp_path: Path, store: Store, runs: int) -> tuple[Pipeline, list[Path]]:
    root = tmp_path / "root"
    logs = []
    for i in range(runs):
        d = root / f"grpo-{i:03d}"
        d.mkdir(parents=True)
        (d / "rankinv-run.json").write_text('{"kind": "GRPO"}')
        (d / "rankinv.jsonl").write_text(_line(1))
        logs.append(d / "rankinv.jsonl")
    cfg = Config()
    cfg = dataclasses.replace(cfg, daemon=dataclasses.replace(cfg.daemon, triage_executor="callback"))
    pipeline = Pipeline(root, cfg, store, triage=TriageStage(store, cfg, tmp_path / "state", None),
                        health=Health(store, 60.0), dirs=NoWatch(), actions=None)  # fmt: skip
    pipeline.kept = KeptFiles()
    pipeline.handle(set(), rescan=True)
    return pipeline, logs


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Statements issued through the store's connection, by their first words."""
    return count_statements(monkeypatch)


@pytest.mark.parametrize("runs", [5, 50])
def test_a_batch_of_appends_writes_its_points_and_offsets_in_one_statement_each(tmp_path: Path, runs: int,
                                                                                statements: Counter[str]) -> None:
    with Store.open(tmp_path / "s.sqlite") as store:
        pipeline, logs = _pipeline(tmp_path, store, runs)
        for log in logs:
            with log.open("a") as f:
                f.write(_line(2))
        statements.clear()
        pipeline.handle({str(log) for log in logs})
        assert statements["INSERT OR REPLACE INTO metrics(run_id,"] == 1  # metrics: every run's points at once
        assert statements["INSERT INTO offsets(path, run_id, reader,"] == 1
        assert statements["UPDATE runs SET last_step ="] == 1
        for log in logs:
            name = log.parent.name
            assert store.series(name, ("entropy",))["entropy"].steps == (1, 2)
            record = store.run(name)
            assert record is not None and record.last_step == 2
        pipeline.kept.close_all()  # type: ignore[union-attr]


def test_a_run_failing_mid_batch_keeps_the_others_and_loses_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as store:
        pipeline, logs = _pipeline(tmp_path, store, 6)
        bad = logs[3]
        for log in logs:
            with log.open("a") as f:
                f.write(_line(2))
        saved = bad.read_bytes()
        bad.unlink()
        os.mkfifo(bad)  # swapped for a FIFO between the event and the read
        pipeline.handle({str(log) for log in logs})
        record = store.run(bad.parent.name)
        assert record is not None and record.status == "error" and "FIFO" in (record.error or "")
        for log in logs:
            if log != bad:
                assert store.series(log.parent.name, ("entropy",))["entropy"].steps == (1, 2)
        bad.unlink()
        bad.write_bytes(saved + _line(3).encode())  # back to a log (a new file): read from its start
        pipeline.handle({str(bad)})
        pipeline.handle(set(), rescan=True)
        assert store.series(bad.parent.name, ("entropy",))["entropy"].steps == (1, 2, 3)
        for log in logs:
            assert store.series(log.parent.name, ("entropy",))["entropy"].steps[-1] >= 2
        pipeline.kept.close_all()  # type: ignore[union-attr]


def _count_writes(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Points per store write (the one-log write and the batch write), in order."""
    sizes: list[int] = []
    one, many = store.ingest, store.ingest_many

    def ingest(run: str, path: str, reader: str, state: Any, points: Any) -> int:
        sizes.append(len(points))
        return one(run, path, reader, state, points)

    def ingest_many(batch: Any) -> None:
        sizes.append(sum(len(item[4]) for item in batch))
        many(batch)

    monkeypatch.setattr(store, "ingest", ingest)
    monkeypatch.setattr(store, "ingest_many", ingest_many)
    return sizes


def test_a_long_read_is_written_in_parts_of_bounded_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first read of a long log, and a long append to a known one, hold one part's points at a time: each write
    carries at most a part's, and together they are every record written (the oracle: the lines themselves)."""
    from rankinv.daemon.pipeline import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "PENDING_POINTS", 3000)
    with Store.open(tmp_path / "s.sqlite") as store:
        sizes = _count_writes(store, monkeypatch)
        root = tmp_path / "root" / "grpo-long"
        root.mkdir(parents=True)
        (root / "rankinv-run.json").write_text('{"kind": "GRPO"}')
        log = root / "rankinv.jsonl"
        log.write_text("".join(_line(s) for s in range(1, 10_001)))  # ~0.8 MB
        cfg = Config()
        cfg = dataclasses.replace(cfg, daemon=dataclasses.replace(cfg.daemon, triage_executor="callback"))
        pipeline = Pipeline(tmp_path / "root", cfg, store, triage=TriageStage(store, cfg, tmp_path / "state", None),
                            health=Health(store, 60.0), dirs=NoWatch(), actions=None)  # fmt: skip
        pipeline.kept = KeptFiles(read_limit=64 << 10)
        points_per_line = len(open_source(log, "r", "jsonl").read_new(START)[0]) // 10_000
        # a part stops after the block that reaches the limit: at most two 64 KiB blocks of lines
        per_part = points_per_line * (2 * (64 << 10) // len(_line(1)) + 1)
        pipeline.handle(set(), rescan=True)
        assert len(sizes) >= 5 and max(sizes) <= per_part
        with log.open("a") as f:
            f.write("".join(_line(s) for s in range(10_001, 20_001)))
        sizes.clear()
        pipeline.handle({str(log)})
        assert len(sizes) > 1 and max(sizes) <= 3000 + per_part
        got = store.series("grpo-long", ("entropy", "kl"))
        assert got["entropy"].steps == tuple(range(1, 20_001)) and got["kl"].steps == tuple(range(1, 20_001))
        assert got["entropy"].values[-1] == 1.0 / 20_000
        pipeline.kept.close_all()


class _FailsAfterReading(Pipeline):
    """A stand-in for a run that fails after its log was read (an I/O error while the rest of it is handled)."""

    failing = "grpo-003"

    def ingest(self, info: Any, extra: list[Path]) -> int:
        written = super().ingest(info, extra)
        if info.name == self.failing:
            raise OSError(5, "Input/output error")
        return written


def test_a_full_pass_writes_every_new_runs_points_at_once_and_a_failing_run_only_loses_its_own(
        tmp_path: Path, statements: Counter[str]) -> None:  # fmt: skip
    root = tmp_path / "root"
    for i in range(8):
        d = root / f"grpo-{i:03d}"
        d.mkdir(parents=True)
        (d / "rankinv-run.json").write_text('{"kind": "GRPO"}')
        (d / "rankinv.jsonl").write_text(_line(1) + _line(2))
    cfg = Config()
    cfg = dataclasses.replace(cfg, daemon=dataclasses.replace(cfg.daemon, triage_executor="callback"))
    with Store.open(tmp_path / "s.sqlite") as store:
        pipeline = _FailsAfterReading(root, cfg, store, triage=TriageStage(store, cfg, tmp_path / "state", None),
                                      health=Health(store, 60.0), dirs=NoWatch(), actions=None)  # fmt: skip
        pipeline.handle(set(), rescan=True)
        assert statements["INSERT OR REPLACE INTO metrics(run_id,"] == 1  # eight runs' first reads, one statement
        failed = store.run("grpo-003")
        assert failed is not None and failed.status == "error" and "Input/output error" in (failed.error or "")
        assert not store.has_metrics("grpo-003") and store.offset(str(root / "grpo-003" / "rankinv.jsonl")) is None
        for i in (0, 1, 2, 4, 5, 6, 7):  # every other run, read before or after it: all kept
            name = f"grpo-{i:03d}"
            assert store.series(name, ("entropy", "kl"))["kl"].steps == (1, 2), name
            record = store.run(name)
            assert record is not None and record.last_step == 2 and record.status == "active"
            assert [v.decision for v in store.verdicts(name)]  # judged on the points written
