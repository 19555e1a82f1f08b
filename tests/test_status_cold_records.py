"""A cold one-shot scan writes its runs' records in one statement per stretch (queued while the batch's points
are), and leaves the store as writing each record as its run is inspected does: with runs that fail after their
record was queued (marked as errors, their record dropped with their points), checkpoints (written at once), no
points (the last step peeked), and the batch's points written early between runs.

Oracle: the same scan with every record written as its run is inspected (the daemon's :meth:`Pipeline.record`),
every table compared without timestamps and row ids (``tests/test_status_cold.py``'s comparison).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon import oneshot
from rankinv.daemon.pipeline import ingest
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.serve import plan

from rankinv.store import store_path_for
from tests.test_status_cold import _config, _root, _tables

FAILING = ("sweep/grpo-2", "restart", "sft")


def _scan(root: Path, state: Path, config: Path) -> dict[str, list[Any]]:
    assert oneshot.scan_once(plan(root, config, state_base=state))
    return _tables(store_path_for(root, state))


def test_queued_records_leave_the_store_as_records_written_one_by_one(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root, config = tmp_path / "root", _config(tmp_path)
    _root(root)
    real_ingest = oneshot.OneShot.ingest

    def failing(self: oneshot.OneShot, info: Any, extra: list[Path]) -> int:
        written = real_ingest(self, info, extra)
        if info.name in FAILING:
            raise ValueError(f"{info.name}: broken after its read")
        return written

    monkeypatch.setattr(oneshot.OneShot, "ingest", failing)
    monkeypatch.setattr(ingest, "PENDING_POINTS", 50)  # the batch's points written early, between runs
    written: list[int] = []
    upsert_runs = oneshot.Store.upsert_runs

    def counted(self: Any, rows: Any) -> None:
        written.append(len(rows))
        upsert_runs(self, rows)

    monkeypatch.setattr(oneshot.Store, "upsert_runs", counted)
    queued = _scan(root, tmp_path / "queued", config)
    assert len(written) > 1 and max(written) > 1  # written in stretches, early ones too
    monkeypatch.setattr(oneshot.OneShot, "record", Pipeline.record)  # each record written as its run is inspected
    one_by_one = _scan(root, tmp_path / "one-by-one", config)
    assert queued == one_by_one
    errors = {r[0]: r[5] for r in queued["runs"] if r[4] == "error"}
    assert set(errors) == set(FAILING) and all("broken after its read" in e for e in errors.values())
    active = {r[0] for r in queued["runs"] if r[4] == "active"}
    assert "child" in active and "steps-only" in active and len(active) > 10
