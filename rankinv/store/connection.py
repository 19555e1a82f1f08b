"""Opening the SQLite store: WAL, busy timeout, migrations, and recovery from a corrupt file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from rankinv.errors import RankinvError
from rankinv.store.schema import migrate


class StoreError(RankinvError):
    """The store cannot be opened or used; the message says which file and what to do."""


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


def connect(path: Path, *, readonly: bool = False, timeout: float = 10.0) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, foreign keys on."""
    if readonly:
        if not path.exists():
            raise StoreError(f"{path}: no store yet (start the daemon with `rankinv daemon ROOT`)")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    return _configure(conn, readonly=readonly, timeout=timeout)


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
