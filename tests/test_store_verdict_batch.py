"""``put_verdicts`` writes a batch as ``put_verdict`` would row by row: same ids, same new/refreshed answers and
previous decisions, same rows.

Oracle: a second store given the same rows one ``put_verdict`` call at a time (the long way every row took before
first verdicts were inserted in one statement), compared row for row without timestamps.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from rankinv.messages import Reason
from rankinv.store import Store
from rankinv.store.writes import VerdictRow, VerdictWrite

NAMES = ["a", "b", "模型", "caf\udce9", "c"]  # a name SQLite cannot hold as it is: stored escaped
REASON = Reason("entropy_drop", 0.4, 0.5, ">", 10, 20, "watch")


def _stores(tmp_path: Path) -> tuple[Store, Store]:
    stores = []
    for name in ("batch", "single"):
        store = Store.open(tmp_path / f"{name}.sqlite")
        for run in NAMES:
            store.upsert_run(run, f"/runs/{run}", kind="grpo")
        store.upsert_checkpoint("a", "/runs/a/checkpoint-5", 5, True)
        stores.append(store)
    return stores[0], stores[1]


def _row(run: str, decision: str, step: int, checkpoint: str | None = None) -> VerdictRow:
    return run, checkpoint, step, decision, 0.5 + step / 1000, "2", f"{decision}: no concerns", [REASON]


def _one_by_one(store: Store, rows: list[VerdictRow]) -> list[VerdictWrite]:
    return [store.put_verdict(run, checkpoint, step=step, decision=decision, confidence=confidence, stage=stage,
                              summary=summary, reasons=reasons)
            for run, checkpoint, step, decision, confidence, stage, summary, reasons in rows]  # fmt: skip


def _rows(store: Store) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT id, run_id, checkpoint_id, subject, step, decision, confidence, stage, summary, "
                            "reasons FROM verdicts ORDER BY id").fetchall()  # fmt: skip
    finally:
        conn.close()


BATCHES = [
    [_row(n, "CONTINUE", 1) for n in NAMES] + [_row("a", "WATCH", 1, "/runs/a/checkpoint-5")],  # every one first
    [_row(n, "CONTINUE", 2) for n in NAMES],  # every decision stands: refreshed
    [_row("a", "WATCH", 3), _row("b", "CONTINUE", 3), _row("模型", "KILL", 3)],  # two new decisions among them
    [_row("c", "WATCH", 4), _row("c", "KILL", 5), _row("a", "WATCH", 4)],  # a subject twice: row after row
]


def test_a_batch_of_verdicts_is_written_as_one_call_each_would_write_it(tmp_path: Path) -> None:
    batch, single = _stores(tmp_path)
    try:
        for rows in BATCHES:
            assert batch.put_verdicts(rows) == _one_by_one(single, rows)
            assert _rows(batch) == _rows(single)
        first = _rows(batch)[: len(BATCHES[0])]
        assert [r[3] for r in first] == [*NAMES[:3], "caf\\xe9", "c", "a@/runs/a/checkpoint-5"]  # in the rows' order
    finally:
        batch.close()
        single.close()


def test_first_verdicts_after_a_stored_one_of_another_store_keep_counting_ids(tmp_path: Path) -> None:
    """A subject whose verdict another writer stored (not in this store's memory) is not taken for a first one."""
    batch, single = _stores(tmp_path)
    try:
        for store in (batch, single):
            store.put_verdict("b", None, step=1, decision="KILL", confidence=1.0, stage="2", summary="KILL: x",
                              reasons=[])  # fmt: skip
            store._latest_verdicts.clear()  # as another process's write: only the table knows it
        rows = [_row(n, "CONTINUE", 2) for n in NAMES]
        assert batch.put_verdicts(rows) == _one_by_one(single, rows)
        assert _rows(batch) == _rows(single)
    finally:
        batch.close()
        single.close()
