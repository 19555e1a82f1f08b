"""The connection holder both halves of the API share."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any, TypeVar

from rankinv.messages import finite_or_none

__all__ = ["StoreBase", "dumps", "finite_or_none", "loads", "nan_or_none"]
_S = TypeVar("_S", bound="StoreBase")


_ENCODE = json.JSONEncoder(sort_keys=True, default=str).encode  # json.dumps with these, without a new encoder per call


def dumps(value: Any) -> str | None:
    return None if value is None else _ENCODE(value)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def nan_or_none(value: float | None) -> float | None:
    """A metric value as SQLite can hold it: NaN becomes NULL, ±Inf stays (SQLite's REAL keeps infinities)."""
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


class StoreBase:
    """Holds one SQLite connection; not shared between threads (open one Store per thread)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool, recovered_from: Path | None = None):
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self.recovered_from = recovered_from
        """Where a corrupt store file was moved when this one was created, else None."""
        self._ids: dict[str, int] = {}  # run name -> id (ids never change; cleared when a write is rolled back)
        self._latest_verdicts: dict[str, tuple[int, str, str]] = {}  # subject -> (id, decision, summary) last written

    def close(self) -> None:
        self.conn.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def now() -> float:
        return time.time()

    def _run_id(self, name: str) -> int:
        known = self._ids.get(name)
        if known is not None:
            return known
        row = self.conn.execute("SELECT id FROM runs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise KeyError(f"unknown run {name!r}")
        self._ids[name] = int(row[0])
        return int(row[0])

    def _checkpoint_id(self, path: str | None) -> int | None:
        if path is None:
            return None
        row = self.conn.execute("SELECT id FROM checkpoints WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise KeyError(f"unknown checkpoint {path!r}")
        return int(row[0])

    def data_version(self) -> int:
        """A cheap counter that changes whenever another connection commits (for polling readers)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])
