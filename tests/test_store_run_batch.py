"""``upsert_runs`` writes a batch as ``upsert_run`` would row by row: the same rows, the same ids remembered.

Oracle: a second store given the same rows one ``upsert_run`` call at a time, compared row for row without
timestamps, and each store's ids against the ids it holds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from rankinv.store import Store

NAMES = ["a", "b", "模型", "caf\udce9", "c"]  # a name SQLite cannot hold as it is: stored escaped
ROWS: list[tuple[str, str, dict[str, Any]]] = [
    ("a", "/runs/a", {"kind": "grpo", "parent": None, "manifest": {"kind": "GRPO"}, "last_step": 5,
                      "status": "active", "error": None}),
    ("b", "/runs/b", {"kind": "grpo", "parent": "/m", "manifest": None, "last_step": None, "status": "active",
                      "error": None, "job_id": "4102"}),  # other fields: a stretch of its own
    ("模型", "/runs/模型", {"kind": "sft", "parent": None, "manifest": {"名": "x"}, "last_step": 1,
                         "status": "active", "error": None}),
    ("caf\udce9", "/runs/caf\udce9", {"kind": "unknown", "parent": None, "manifest": {"k\udce9": 1},
                                      "last_step": 2, "status": "active", "error": None}),
    ("a", "/runs/a2", {"last_step": 9}),  # the same run again: applied after its first row, as calls in order
    ("c", "/runs/c", {}),
]


def _rows(store: Store) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT id, name, path, kind, parent, status, error, manifest, job_id, last_step, pinned "
                            "FROM runs ORDER BY id").fetchall()  # fmt: skip
    finally:
        conn.close()


def _filled(tmp_path: Path, name: str) -> Store:
    store = Store.open(tmp_path / f"{name}.sqlite")
    store.upsert_run("c", "/runs/old-c", kind="grpo", status="error", error="was broken")  # known before the batch
    store.set_run_flags("c", pinned="continue")
    store._ids.clear()
    return store


def test_upsert_runs_equals_upsert_run_row_by_row(tmp_path: Path) -> None:
    batch, single = _filled(tmp_path, "batch"), _filled(tmp_path, "single")
    try:
        batch.upsert_runs(ROWS)
        for name, path, fields in ROWS:
            single.upsert_run(name, path, **fields)
        assert _rows(batch) == _rows(single)
        assert batch._ids == single._ids and set(batch._ids) == set(NAMES)  # under the names asked for
        remembered = dict(batch._ids)
        batch._ids.clear()
        assert {name: batch._run_id(name) for name in NAMES} == remembered  # the ids the store holds for them
    finally:
        batch.close()
        single.close()


def test_upsert_runs_refuses_a_field_that_is_no_column(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    try:
        with pytest.raises(TypeError, match="unknown fields"):
            store.upsert_runs([("a", "/runs/a", {"colour": "red"})])
        assert _rows(store) == []
    finally:
        store.close()
