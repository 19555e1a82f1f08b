"""The action ledger: what was decided and done for each (run, verdict, kind), persisted before acting.

The escalator writes a record *before* each irreversible step, so a daemon that dies at any point and
restarts reads back where it was and never repeats a signal. :class:`Ledger` is the narrow interface the
escalator needs; the store provides the real one, :class:`SqliteLedger` is a standalone file-backed one.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# Non-terminal states, in order.
PENDING, SIGNALLED, CANCELLING = "pending", "signalled", "cancelling"
OPEN_STATES = (PENDING, SIGNALLED, CANCELLING)
# Terminal states.
DONE, GONE, DRY_RUN, ABORTED = "done", "gone", "dry_run", "aborted"
NOT_OWNER, UNRESOLVED, OPTED_OUT, RATE_LIMITED = "not_owner", "unresolved", "opted_out", "rate_limited"


@dataclass(frozen=True)
class ActionKey:
    """One action per run, verdict and kind (``kill``): a verdict is acted on at most once."""

    run: str
    verdict_id: int
    kind: str = "kill"


@dataclass(frozen=True)
class ActionRecord:
    """The persisted state of one action. Times are Unix seconds."""

    key: ActionKey
    state: str
    created_at: float
    updated_at: float
    run_dir: str = ""
    step: int | None = None
    reason: str = ""
    target: str = ""
    armed: bool = False
    signalled_at: float | None = None
    cancelled_at: float | None = None
    acted_at: float | None = None
    attempts: int = 0
    next_try_at: float = 0.0
    detail: str = ""
    audit: str = ""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["key"] = dataclasses.asdict(self.key)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ActionRecord:
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        return cls(**{**data, "key": ActionKey(**data["key"])})


class Ledger(Protocol):
    """Get and put action state; the store implements this over its ``actions`` table."""

    def get(self, key: ActionKey) -> ActionRecord | None: ...

    def put(self, record: ActionRecord) -> None: ...

    def open_actions(self) -> list[ActionRecord]: ...

    def kills_since(self, since: float) -> int: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS action_ledger (
  run TEXT NOT NULL, verdict_id TEXT NOT NULL, kind TEXT NOT NULL,
  state TEXT NOT NULL, acted_at REAL, record TEXT NOT NULL,
  PRIMARY KEY (run, verdict_id, kind)
)
"""


class SqliteLedger:
    """A ledger in its own SQLite file (WAL); each put commits before returning."""

    def __init__(self, path: str | Path):
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def get(self, key: ActionKey) -> ActionRecord | None:
        row = self.db.execute(
            "SELECT record FROM action_ledger WHERE run=? AND verdict_id=? AND kind=?",
            (key.run, key.verdict_id, key.kind),
        ).fetchone()
        return ActionRecord.from_json(row[0]) if row else None

    def put(self, record: ActionRecord) -> None:
        k = record.key
        self.db.execute(
            "INSERT OR REPLACE INTO action_ledger VALUES (?, ?, ?, ?, ?, ?)",
            (k.run, k.verdict_id, k.kind, record.state, record.acted_at, record.to_json()),
        )

    def open_actions(self) -> list[ActionRecord]:
        marks = ",".join("?" * len(OPEN_STATES))
        rows = self.db.execute(f"SELECT record FROM action_ledger WHERE state IN ({marks})", OPEN_STATES)
        return [ActionRecord.from_json(r[0]) for r in rows]

    def kills_since(self, since: float) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM action_ledger WHERE kind='kill' AND acted_at >= ?", (since,))
        return int(row.fetchone()[0])
