"""Helpers for tests that drive the daemon's pipeline in-process: no directory watcher, a count of the
statements the store issues (costs are counted in tests, never timed), and runs read once by an ingestor."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon.pipeline.ingest import Ingestor

from rankinv.store import Store
from rankinv.store.connection import TextSafeConnection


class NoWatch:
    """The pipeline's directory watcher when the test hands the pipeline its events itself."""

    def add(self, directory: Path) -> None:
        """Nothing is watched."""

    def discard(self, directory: Path) -> None:
        """Nothing is watched."""


def count_statements(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Statements issued through the store's connection from now on, by their first five words."""
    seen: Counter[str] = Counter()
    execute, executemany = TextSafeConnection.execute, TextSafeConnection.executemany

    def counted(self: Any, sql: str, *args: Any) -> Any:
        seen[" ".join(sql.split()[:5])] += 1
        return execute(self, sql, *args)

    def counted_many(self: Any, sql: str, *args: Any) -> Any:
        seen[" ".join(sql.split()[:5])] += 1
        return executemany(self, sql, *args)

    monkeypatch.setattr(TextSafeConnection, "execute", counted)
    monkeypatch.setattr(TextSafeConnection, "executemany", counted_many)
    return seen


def ingest_runs(store: Store, folders: dict[str, Path]) -> Ingestor:
    """An ingestor that has read each run folder once (each stored as a GRPO run under its name), to read on."""
    ingestor = Ingestor(store)
    for run, folder in folders.items():
        store.upsert_run(run, str(folder), kind="grpo")
        ingestor.ingest_run(run, folder)
    return ingestor
