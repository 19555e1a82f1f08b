"""The SQLite store: the contract between the daemon (the only writer) and every reader.

Open one :class:`Store` per thread. Readers use ``Store.open(path, readonly=True)`` and poll
:meth:`Store.data_version`, which changes whenever the daemon commits. Schema changes are migrations in
:mod:`rankinv.store.schema`.
"""

from __future__ import annotations

from pathlib import Path

from rankinv.store.connection import StoreError, connect, open_writable
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


class Store(Writes, Reads):
    """Read and write access to one store file."""

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        p = Path(path)
        if readonly:
            conn = connect(p, readonly=True)
            version = schema_version(conn)
            if version != LATEST_VERSION:
                conn.close()
                raise StoreError(
                    f"{p}: store schema version {version}, this rankinv reads {LATEST_VERSION}; "
                    "restart the daemon with this version of rankinv to migrate it"
                )
            return cls(conn, p, readonly=True)
        conn, moved = open_writable(p)
        return cls(conn, p, readonly=False, recovered_from=moved)


__all__ = [
    "ActionRecord",
    "Candidate",
    "CheckpointRecord",
    "CommandRecord",
    "EventRecord",
    "Health",
    "RunRecord",
    "Series",
    "Snapshot",
    "Store",
    "StoreError",
    "VerdictRecord",
    "state_dir_for",
    "state_home",
    "store_path_for",
    "subject_of",
]
