"""The SQLite store: the contract between the daemon (the only writer) and every reader.

Every SQL statement of rankinv lives in this package. Three types, by what their holder may do:

- :class:`Store`: the daemon's read-write access (creates, migrates and repairs the file).
- :class:`ReadStore`: every reader's (the TUI, ``rankinv status``, scripts); it has no write methods. Poll
  :meth:`ReadStore.data_version`, which changes whenever the daemon commits.
- :class:`CommandChannel`: the one write a reader makes, queueing a :class:`~rankinv.messages.Command`.

Open one per thread. Schema changes are migrations in :mod:`rankinv.store.schema`.
"""

from __future__ import annotations

from pathlib import Path

from rankinv.store.channel import CommandChannel
from rankinv.store.connection import DatabaseError, StoreError, open_current, open_writable
from rankinv.store.paths import state_dir_for, state_home, store_path_for
from rankinv.store.reads import Reads
from rankinv.store.records import (
    ActionRecord,
    Candidate,
    CheckpointRecord,
    CommandRecord,
    EventRecord,
    Health,
    RunRecord,
    Series,
    Snapshot,
    VerdictRecord,
)
from rankinv.store.schema import LATEST_VERSION, schema_version
from rankinv.store.writes import Writes, subject_of


class ReadStore(Reads):
    """Read-only access to one store file, at this rankinv's schema version (readers never migrate)."""

    @classmethod
    def open(cls, path: str | Path) -> ReadStore:
        p = Path(path)
        return cls(open_current(p, readonly=True), p, readonly=True)


class Store(Writes, Reads):
    """Read and write access to one store file: the daemon's (and tests that play the daemon)."""

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Create or migrate the store; a corrupt file is moved aside (see ``recovered_from``)."""
        conn, moved = open_writable(Path(path))
        return cls(conn, Path(path), readonly=False, recovered_from=moved)


__all__ = [
    "LATEST_VERSION",
    "ActionRecord",
    "Candidate",
    "CheckpointRecord",
    "CommandChannel",
    "CommandRecord",
    "DatabaseError",
    "EventRecord",
    "Health",
    "ReadStore",
    "RunRecord",
    "Series",
    "Snapshot",
    "Store",
    "StoreError",
    "VerdictRecord",
    "schema_version",
    "state_dir_for",
    "state_home",
    "store_path_for",
    "subject_of",
]
