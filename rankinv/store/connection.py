"""Opening the SQLite store: WAL, busy timeout, migrations, and recovery from a corrupt file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rankinv.boundary.text import storable
from rankinv.errors import RankinvError
from rankinv.store.private import private_file
from rankinv.store.schema import LATEST_VERSION, migrate, schema_version


class StoreError(RankinvError):
    """The store cannot be opened or used; the message says which file and what to do."""


DatabaseError = sqlite3.DatabaseError
"""What SQLite raises for a broken, locked or half-written file (callers outside the store catch this name)."""


def _param(value: Any) -> Any:
    return storable(value) if type(value) is str and not value.isascii() else value


def _params(params: Any) -> Any:
    if isinstance(params, Mapping):
        return {k: _param(v) for k, v in params.items()}
    for value in params:  # the common case (nothing to escape) passes the parameters on as they are
        if type(value) is str and not value.isascii():
            return tuple(_param(v) for v in params)
    return params


class TextSafeConnection(sqlite3.Connection):
    """A connection that stores text SQLite cannot hold (lone surrogates: a Latin-1 file name, a ``\\udce9`` in
    a JSON key) in its escaped form instead of failing the whole write; lookups escape the same way."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, _params(parameters))

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return super().executemany(sql, map(_params, seq_of_parameters))


def _configure(conn: sqlite3.Connection, *, readonly: bool, timeout: float) -> sqlite3.Connection:
    try:
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys=ON")
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def connect(path: Path, *, readonly: bool = False, create: bool = True, timeout: float = 10.0) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, foreign keys on.

    Read-only connections, and writable ones with ``create=False``, need an existing store file.
    """
    if readonly or not create:
        if not path.exists():
            raise StoreError(f"{path}: no store yet (start the daemon with `rankinv daemon ROOT`)")
        mode = "ro" if readonly else "rw"
        conn = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=timeout, isolation_level=None,
                               factory=TextSafeConnection)  # fmt: skip
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            private_file(path)  # 0600 whatever the umask; SQLite gives the WAL and SHM files the same mode
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, factory=TextSafeConnection)
    return _configure(conn, readonly=readonly, timeout=timeout)


def open_current(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection to an existing store at this rankinv's schema version (readers never migrate)."""
    conn = connect(path, readonly=readonly, create=False)
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: cannot read the store ({exc})") from None
    if version != LATEST_VERSION:
        conn.close()
        raise StoreError(
            f"{path}: store schema version {version}, this rankinv reads {LATEST_VERSION}; "
            "restart the daemon with this version of rankinv to migrate it"
        )
    return conn


def _open_checked(path: Path) -> sqlite3.Connection:
    conn = connect(path)
    try:
        row = conn.execute("PRAGMA quick_check").fetchone()
        if not row or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {row[0] if row else 'no answer'}")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _move_aside(path: Path) -> Path:
    moved = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        old = Path(str(path) + suffix)
        if old.exists():
            old.rename(Path(str(moved) + suffix))
    return moved


def open_writable(path: Path) -> tuple[sqlite3.Connection, Path | None]:
    """Open (creating and migrating) the store; a corrupt file is moved aside and a fresh one created.

    Returns the connection and, if the old file was corrupt, where it was moved. The caller reports that
    and re-ingests from the logs: the offsets went with the old file, so nothing is lost or duplicated.
    """
    try:
        return _open_checked(path), None
    except sqlite3.DatabaseError:
        moved = _move_aside(path)
    conn = connect(path)
    migrate(conn)
    return conn, moved
