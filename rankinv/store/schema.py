"""The store's schema as an ordered list of migrations; ``PRAGMA user_version`` records how far a file is.

To change the schema, append a :class:`Migration` with the next version number. Never edit a migration
that has shipped: stores in the field have already applied it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from rankinv.store.upgrades import to_v2


@dataclass(frozen=True)
class Migration:
    """SQL, then an optional Python step over the rows (in the same transaction) for what SQL cannot rewrite."""

    version: int
    description: str
    sql: str
    rewrite: Callable[[sqlite3.Connection], None] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        """
        CREATE TABLE runs(
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,            -- path relative to the runs root
          path TEXT NOT NULL,
          kind TEXT NOT NULL DEFAULT 'unknown', -- sft | grpo | unknown
          parent TEXT,                          -- the SFT checkpoint a GRPO run started from
          status TEXT NOT NULL DEFAULT 'active',-- active | finished | vanished | error
          error TEXT,
          manifest TEXT,                        -- JSON of rankinv-run.json
          job_id TEXT,
          job_state TEXT,
          last_step INTEGER,
          pinned TEXT,                          -- 'continue' when the user pinned the run
          opt_out INTEGER NOT NULL DEFAULT 0,   -- 1: never act on this run
          acknowledged_verdict INTEGER,
          created_at REAL NOT NULL,
          updated_at REAL NOT NULL
        );
        CREATE TABLE checkpoints(
          id INTEGER PRIMARY KEY,
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          step INTEGER,
          path TEXT NOT NULL UNIQUE,
          complete INTEGER NOT NULL DEFAULT 0,
          reason TEXT,
          triage_state TEXT NOT NULL DEFAULT 'none', -- none | pending | running | done | failed | skipped
          triage_error TEXT,
          triage_job TEXT,
          created_at REAL NOT NULL,
          updated_at REAL NOT NULL
        );
        CREATE TABLE metrics(
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          name TEXT NOT NULL,
          step INTEGER NOT NULL,
          value REAL,
          time REAL,
          PRIMARY KEY(run_id, name, step)
        ) WITHOUT ROWID;
        CREATE TABLE offsets(
          path TEXT PRIMARY KEY,
          run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
          reader TEXT,
          state TEXT NOT NULL,                  -- the reader's serialised offset
          updated_at REAL NOT NULL
        );
        CREATE TABLE triage_reports(
          id INTEGER PRIMARY KEY,
          checkpoint_id INTEGER NOT NULL UNIQUE REFERENCES checkpoints(id) ON DELETE CASCADE,
          report TEXT NOT NULL,                 -- the TriageReport JSON
          flagged INTEGER NOT NULL DEFAULT 0,
          entropy REAL,
          pass1 REAL,
          headroom REAL,
          expected_variance REAL,
          degenerate_fraction REAL,
          group_size INTEGER,
          created_at REAL NOT NULL
        );
        CREATE TABLE monitor(
          run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
          step INTEGER,
          entropy REAL,
          entropy_drop REAL,
          zero_std_fraction REAL,
          detail TEXT,                          -- JSON of the monitor's summary
          updated_at REAL NOT NULL
        );
        CREATE TABLE predictions(
          id INTEGER PRIMARY KEY,
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          checkpoint_id INTEGER REFERENCES checkpoints(id) ON DELETE CASCADE,
          subject TEXT NOT NULL UNIQUE,         -- run name, or run name + '@' + checkpoint path
          step INTEGER,
          value REAL,
          lo REAL,
          hi REAL,
          basis TEXT NOT NULL,
          detail TEXT,
          created_at REAL NOT NULL
        );
        CREATE TABLE verdicts(
          id INTEGER PRIMARY KEY,
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          checkpoint_id INTEGER REFERENCES checkpoints(id) ON DELETE CASCADE,
          subject TEXT NOT NULL,
          step INTEGER,
          decision TEXT NOT NULL,               -- KILL | CONTINUE | WATCH | FLAG
          confidence REAL,
          stage TEXT,
          summary TEXT NOT NULL,                -- one line a person can read
          reasons TEXT NOT NULL,                -- JSON list, most important first
          created_at REAL NOT NULL,
          updated_at REAL NOT NULL
        );
        CREATE INDEX verdicts_subject ON verdicts(subject, id);
        CREATE TABLE actions(
          id INTEGER PRIMARY KEY,
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          verdict_id INTEGER,
          kind TEXT NOT NULL,                   -- kill | alert | ...
          target TEXT,                          -- job id or pid
          dry_run INTEGER NOT NULL,
          state TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_at REAL,
          audit TEXT NOT NULL DEFAULT '',       -- the human-readable audit line
          detail TEXT,                          -- JSON
          created_at REAL NOT NULL,
          updated_at REAL NOT NULL,
          UNIQUE(run_id, kind, verdict_id)
        );
        CREATE TABLE commands(
          id INTEGER PRIMARY KEY,
          kind TEXT NOT NULL,                   -- ack | pin | unpin | arm | disarm | kill | retriage
          run TEXT,
          args TEXT,
          source TEXT,
          created_at REAL NOT NULL,
          consumed_at REAL,
          result TEXT
        );
        CREATE TABLE events(
          id INTEGER PRIMARY KEY,
          time REAL NOT NULL,
          level TEXT NOT NULL,                  -- info | warning | error | alert
          kind TEXT NOT NULL,
          run TEXT,
          message TEXT NOT NULL
        );
        CREATE TABLE health(key TEXT PRIMARY KEY, value TEXT);
        """,
    ),
    Migration(
        2,
        "typed messages: every verdict reason has all its fields; triage reports keep a summary",
        """
        ALTER TABLE triage_reports ADD COLUMN summary TEXT;  -- JSON of rankinv.messages.TriageSummary
        """,
        to_v2,
    ),
    Migration(
        3,
        "the job column: what Slurm last said about each run's job",
        """
        ALTER TABLE runs ADD COLUMN job_node TEXT;        -- the node(s) the job runs on
        ALTER TABLE runs ADD COLUMN job_elapsed REAL;     -- seconds the job had run when last polled
        ALTER TABLE runs ADD COLUMN job_checked_at REAL;  -- when Slurm was last asked
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the file's version, each in its own transaction; returns the version."""
    current = schema_version(conn)
    if current > LATEST_VERSION:
        raise RuntimeError(
            f"store schema version {current} is newer than this rankinv understands ({LATEST_VERSION}); upgrade rankinv"
        )
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        try:
            conn.executescript(f"BEGIN;\n{migration.sql}")  # leaves the transaction open for the Python step
            if migration.rewrite is not None:
                migration.rewrite(conn)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        current = migration.version
    return current
