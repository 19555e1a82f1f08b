"""The command channel: the one write a reader (the TUI, a script) makes to the store — queue a command.

It opens an existing store at the current schema version and never creates, migrates or repairs one: that
is the daemon's job, so a reader can never move a store aside or change its schema.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from rankinv.messages import Command, encode_command
from rankinv.store.connection import open_current


class CommandChannel:
    """Queue :class:`~rankinv.messages.Command` rows for the daemon and read back what it did with them."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn, self.path = conn, path

    @classmethod
    def open(cls, path: str | Path) -> CommandChannel:
        p = Path(path)
        return cls(open_current(p, readonly=False), p)

    def send(self, command: Command, source: str) -> int:
        """Queue ``command``; returns its id. The daemon applies it at its next cycle and writes a result."""
        kind, run, args = encode_command(command)
        cur = self._conn.execute(
            "INSERT INTO commands(kind, run, args, source, created_at) VALUES(?,?,?,?,?)",
            (kind, run, args, source, time.time()),
        )
        return int(cur.lastrowid or 0)

    def result(self, command_id: int) -> str | None:
        """The daemon's ``ok: …`` / ``error: …`` for a command, or None while it is still pending."""
        row = self._conn.execute("SELECT result FROM commands WHERE id = ?", (command_id,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> CommandChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
