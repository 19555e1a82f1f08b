"""What the daemon writes. Every method is idempotent where a restart could repeat it."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple

from rankinv.boundary.text import storable
from rankinv.messages import Reason, TriageSummary, encode_reasons, encode_triage_summary
from rankinv.store.base import StoreBase, dumps, finite_or_none
from rankinv.store.binding import Columnar, MetricRow, PointRow, bound

if TYPE_CHECKING:
    from rankinv.triage.report import TriageReport

EVENTS_KEPT = 5000
MonitorRow = tuple[str, int | None, float | None, float | None, float | None, Mapping[str, Any] | None]
PredictionRow = tuple[str, str | None, int | None, float | None, float | None, float | None, str,
                      Mapping[str, Any] | None]  # fmt: skip
VerdictRow = tuple[str, str | None, int | None, str, float | None, str | None, str, Sequence[Reason]]


class VerdictWrite(NamedTuple):
    """What writing a verdict did: the row's id, whether it is a new row (a changed decision or summary), and the
    decision of the subject's latest verdict before this write (None for its first; the same decision when the
    write only refreshed the latest row)."""

    id: int
    is_new: bool
    previous: str | None


class Writes(StoreBase):
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; rolled back on any error. Nested calls join the outer transaction."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self._forget_ids()
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[sqlite3.Connection]:
        """Inside a transaction: a part that is undone alone on error (the rest of the batch stays); outside one,
        the same as :meth:`transaction`."""
        if not self.conn.in_transaction:
            with self.transaction() as conn:
                yield conn
            return
        self.conn.execute("SAVEPOINT part")
        try:
            yield self.conn
        except BaseException:
            self._forget_ids()
            self.conn.execute("ROLLBACK TO part")
            self.conn.execute("RELEASE part")
            raise
        self.conn.execute("RELEASE part")

    def _forget_ids(self) -> None:
        """After a rollback: ids and latest verdicts read or written since may not exist any more."""
        self._ids.clear()
        self._latest_verdicts.clear()

    # -- runs and checkpoints ------------------------------------------------------------------------------
    def upsert_run(self, name: str, path: str, **fields: Any) -> int:
        """Create or update a run; ``fields`` are column values (kind, parent, status, error, manifest, …)."""
        allowed = {"kind", "parent", "status", "error", "manifest", "job_id", "job_state", "last_step"}
        unknown = set(fields) - allowed
        if unknown:
            raise TypeError(f"upsert_run: unknown fields {sorted(unknown)}")
        if "manifest" in fields:
            fields["manifest"] = dumps(fields["manifest"])
        now = self.now()
        columns, marks = "".join(f", {k}" for k in fields), ", ?" * len(fields)
        sets = "".join(f", {k} = excluded.{k}" for k in (*fields, "updated_at") if fields)
        with self.transaction() as conn:  # one statement: a new run gets every field, a known one the given ones
            ((run_id,),) = conn.execute(
                f"INSERT INTO runs(name, path, created_at, updated_at{columns}) VALUES(?, ?, ?, ?{marks}) "
                f"ON CONFLICT(name) DO UPDATE SET path = excluded.path{sets} RETURNING id",
                (name, path, now, now, *fields.values()),
            ).fetchall()  # the row's id, inserted or updated (not looked up again); the statement run to its end
            self._ids[name] = int(run_id)
            return int(run_id)

    def set_run_flags(
        self,
        name: str,
        *,
        pinned: str | bool | None = False,
        opt_out: bool | None = None,
        acknowledged_verdict: int | bool | None = False,
    ) -> None:
        """User-facing flags (from commands). ``False`` means leave unchanged."""
        with self.transaction() as conn:
            if pinned is not False:
                conn.execute("UPDATE runs SET pinned = ? WHERE name = ?", (pinned, name))
            if opt_out is not None:
                conn.execute("UPDATE runs SET opt_out = ? WHERE name = ?", (int(opt_out), name))
            if acknowledged_verdict is not False:
                conn.execute("UPDATE runs SET acknowledged_verdict = ? WHERE name = ?", (acknowledged_verdict, name))

    def upsert_checkpoint(
        self, run: str, path: str, step: int | None, complete: bool, reason: str | None = None
    ) -> int:
        now = self.now()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO checkpoints(run_id, step, path, complete, reason, created_at, updated_at) "
                "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET step = excluded.step, "
                "complete = excluded.complete, reason = excluded.reason, updated_at = excluded.updated_at",
                (self._run_id(run), step, path, int(complete), reason, now, now),
            )
            cid = self._checkpoint_id(path)
            assert cid is not None
            return cid

    def set_triage_state(
        self, checkpoint: str, state: str, *, error: str | None = None, job: str | None = None
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE checkpoints SET triage_state = ?, triage_error = ?, triage_job = COALESCE(?, triage_job), "
                "updated_at = ? WHERE path = ?",
                (state, error, job, self.now(), checkpoint),
            )

    def set_job_states(
        self, states: Mapping[str, tuple[str, str, str | None, float | None]], checked_at: float
    ) -> None:
        """What Slurm said about each run's job: run name → (job id, state, node, elapsed seconds)."""
        rows = [(job, state, node, elapsed, checked_at, run) for run, (job, state, node, elapsed) in states.items()]
        with self.transaction() as conn:
            conn.executemany("UPDATE runs SET job_id = ?, job_state = ?, job_node = ?, job_elapsed = ?, "
                             "job_checked_at = ? WHERE name = ?", rows)  # fmt: skip

    # -- metrics and offsets -------------------------------------------------------------------------------
    def add_metrics(self, run: str, points: Iterable[PointRow] | Columnar) -> int:
        """Insert (step, name, value, time) points; a repeated (name, step) replaces the old value, never duplicates.

        NaN is stored as NULL (SQLite has no NaN; the reader sees NaN); ±Inf keeps its sign. A point whose step
        does not fit SQLite's 64-bit INTEGER is dropped alone. The run's ``last_step`` becomes the step of the last
        point, in log order. Returns how many points were written. ``points`` may be a read's columns
        (:class:`rankinv.ingest.batch.Points`): bound as they are, no row made per point (:mod:`.binding`).
        """
        run_id = self._run_id(run)
        rows = bound(run_id, points)
        if rows.size:
            with self.transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO metrics(run_id, name, step, value, time) VALUES(?, ?, ?, ?, ?)", rows.rows
                )
                # The run's step is where its log is now: the last point read (after a restart, a lower step).
                conn.execute("UPDATE runs SET last_step = ? WHERE id = ?", (rows.last_step, run_id))
        return rows.size

    def ingest(
        self,
        run: str,
        path: str,
        reader: str,
        state: Mapping[str, Any] | str,
        points: Iterable[PointRow] | Columnar,
    ) -> int:
        """Write new points and the file's new offset in ONE transaction: a crash between them cannot duplicate."""
        with self.transaction():
            count = self.add_metrics(run, points)
            self.save_offset(path, run, reader, state)
        return count

    def ingest_many(self, batch: Sequence[tuple[str, str, str, str, Iterable[PointRow] | Columnar]]) -> None:
        """:meth:`ingest` of many logs, ``(run, path, reader, state, points)`` each, in one transaction and three
        statements: every point, every run's ``last_step`` (its log's last point, the later log last), every offset."""
        metrics: list[Iterable[MetricRow]] = []
        steps: list[tuple[int | None, int]] = []
        offsets: list[tuple[str, int, str, str, float]] = []
        now = self.now()
        for run, path, reader, state, points in batch:
            run_id = self._run_id(run)
            rows = bound(run_id, points)
            if rows.size:
                metrics.append(rows.rows)
                steps.append((rows.last_step, run_id))
            offsets.append((path, run_id, reader, state, now))
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO metrics(run_id, name, step, value, time) VALUES(?, ?, ?, ?, ?)",
                             chain.from_iterable(metrics))  # fmt: skip
            conn.executemany("UPDATE runs SET last_step = ? WHERE id = ?", steps)
            conn.executemany(
                "INSERT INTO offsets(path, run_id, reader, state, updated_at) VALUES(?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET run_id = excluded.run_id, reader = excluded.reader, "
                "state = excluded.state, updated_at = excluded.updated_at",
                offsets,
            )

    def save_offset(self, path: str, run: str | None, reader: str, state: Mapping[str, Any] | str) -> None:
        text = state if isinstance(state, str) else json.dumps(dict(state), sort_keys=True)
        run_id = self._run_id(run) if run is not None else None
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO offsets(path, run_id, reader, state, updated_at) VALUES(?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET run_id = excluded.run_id, reader = excluded.reader, "
                "state = excluded.state, updated_at = excluded.updated_at",
                (path, run_id, reader, text, self.now()),
            )

    # -- analysis results ----------------------------------------------------------------------------------
    def put_triage_report(self, checkpoint: str, report: TriageReport, summary: TriageSummary) -> None:
        """Store (or replace, on re-triage) the report of a checkpoint and its summary; mark its triage done."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO triage_reports(checkpoint_id, report, summary, flagged, entropy, pass1, "
                "headroom, expected_variance, degenerate_fraction, group_size, created_at) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (
                    self._checkpoint_id(checkpoint),
                    report.to_json(),
                    encode_triage_summary(summary),
                    int(summary.flagged),
                    finite_or_none(summary.entropy),
                    finite_or_none(summary.pass1),
                    finite_or_none(summary.headroom),
                    finite_or_none(summary.expected_variance),
                    finite_or_none(summary.degenerate_fraction),
                    summary.group_size,
                    self.now(),
                ),
            )
            self.set_triage_state(checkpoint, "done")

    def put_monitor(
        self,
        run: str,
        *,
        step: int | None,
        entropy: float | None,
        entropy_drop: float | None,
        zero_std_fraction: float | None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.put_monitors([(run, step, entropy, entropy_drop, zero_std_fraction, detail)])

    def put_monitors(self, rows: Iterable[MonitorRow]) -> None:
        """:meth:`put_monitor` of many runs, ``(run, step, entropy, entropy_drop, zero_std_fraction, detail)`` each,
        in one statement."""
        now = self.now()
        params = [(self._run_id(run), step, finite_or_none(entropy), finite_or_none(drop), finite_or_none(zero),
                   dumps(detail), now) for run, step, entropy, drop, zero, detail in rows]  # fmt: skip
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO monitor(run_id, step, entropy, entropy_drop, zero_std_fraction, detail, "
                "updated_at) VALUES(?,?,?,?,?,?,?)",
                params,
            )

    def put_prediction(
        self,
        run: str,
        checkpoint: str | None,
        *,
        step: int | None,
        value: float | None,
        lo: float | None,
        hi: float | None,
        basis: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """The latest prediction per subject (a run, or a checkpoint of it) replaces the previous one."""
        self.put_predictions([(run, checkpoint, step, value, lo, hi, basis, detail)])

    def put_predictions(self, rows: Iterable[PredictionRow]) -> None:
        """:meth:`put_prediction` of many subjects, ``(run, checkpoint, step, value, lo, hi, basis, detail)`` each,
        in one statement."""
        now = self.now()
        params = [(self._run_id(run), self._checkpoint_id(checkpoint), subject_of(run, checkpoint), step,
                   finite_or_none(value), finite_or_none(lo), finite_or_none(hi), basis, dumps(detail), now)
                  for run, checkpoint, step, value, lo, hi, basis, detail in rows]  # fmt: skip
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO predictions(run_id, checkpoint_id, subject, step, value, lo, hi, basis, detail, "
                "created_at) VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(subject) DO UPDATE SET step = excluded.step, "
                "value = excluded.value, lo = excluded.lo, hi = excluded.hi, basis = excluded.basis, "
                "detail = excluded.detail, created_at = excluded.created_at",
                params,
            )

    def put_verdict(
        self,
        run: str,
        checkpoint: str | None,
        *,
        step: int | None,
        decision: str,
        confidence: float | None,
        stage: str | None,
        summary: str,
        reasons: Sequence[Reason],
    ) -> VerdictWrite:
        """Record a verdict; returns (verdict id, is_new, previous decision): see :class:`VerdictWrite`.

        A verdict equal to the subject's latest (same decision and summary) only refreshes that row, so the
        table grows with decisions, not with daemon cycles, and a restart never repeats a verdict. The previous
        decision is the latest row this reads anyway (or remembers writing), so a caller need not read it again.
        """
        subject = subject_of(run, checkpoint)
        now = self.now()
        with self.transaction() as conn:
            row = self._latest_verdicts.pop(subject, None)  # what this store last wrote for it, if it is still there
            if row is None:
                row = conn.execute(
                    "SELECT id, decision, summary FROM verdicts WHERE subject = ? ORDER BY id DESC LIMIT 1", (subject,)
                ).fetchone()
            if row and row[1] == decision and row[2] == summary:
                refreshed = conn.execute(
                    "UPDATE verdicts SET step = ?, confidence = ?, reasons = ?, updated_at = ? WHERE id = ?",
                    (step, finite_or_none(confidence), encode_reasons(reasons), now, row[0]),
                ).rowcount
                if refreshed:
                    self._latest_verdicts[subject] = (int(row[0]), decision, summary)
                    return VerdictWrite(int(row[0]), False, decision)
                # the row was deleted since (its run removed): read the latest again
                return self.put_verdict(run, checkpoint, step=step, decision=decision, confidence=confidence,
                                        stage=stage, summary=summary, reasons=reasons)  # fmt: skip
            cur = conn.execute(
                "INSERT INTO verdicts(run_id, checkpoint_id, subject, step, decision, confidence, stage, summary, "
                "reasons, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (
                    self._run_id(run),
                    self._checkpoint_id(checkpoint),
                    subject,
                    step,
                    decision,
                    finite_or_none(confidence),
                    stage,
                    summary,
                    encode_reasons(reasons),
                    now,
                    now,
                ),
            )
            self._latest_verdicts[subject] = (int(cur.lastrowid or 0), decision, summary)
            return VerdictWrite(int(cur.lastrowid or 0), True, str(row[1]) if row else None)

    def put_verdicts(self, rows: Sequence[VerdictRow]) -> list[VerdictWrite]:
        """:meth:`put_verdict` of many subjects, ``(run, checkpoint, step, decision, confidence, stage, summary,
        reasons)`` each; returns (verdict id, is_new, previous decision) per row, as one call each would in this
        order.

        The rows that only refresh their subject's latest verdict (the common case: a decision that stands) are
        one statement, and so are the first verdicts of subjects that have none (a first scan); a new decision is
        inserted by :meth:`put_verdict`, in the rows' order."""
        subjects = [subject_of(run, checkpoint) for run, checkpoint, *_ in rows]
        out: list[VerdictWrite | None] = [None] * len(rows)
        now = self.now()
        with self.transaction() as conn:
            refresh: list[tuple[int, tuple[int, str, str]]] = []
            if len(set(subjects)) == len(rows):  # a subject twice: each row must see the one before it
                for k, (subject, row) in enumerate(zip(subjects, rows, strict=True)):
                    latest = self._latest_verdicts.get(subject)
                    if latest is not None and latest[1:] == (row[3], row[6]):
                        refresh.append((k, latest))
            params = [(rows[k][2], finite_or_none(rows[k][4]), encode_reasons(rows[k][7]), now, latest[0])
                      for k, latest in refresh]  # fmt: skip
            done = conn.executemany("UPDATE verdicts SET step = ?, confidence = ?, reasons = ?, updated_at = ? "
                                    "WHERE id = ?", params).rowcount if params else 0  # fmt: skip
            if done == len(refresh):  # else a refreshed row was deleted since: every row goes the long way
                for k, latest in refresh:
                    out[k] = VerdictWrite(latest[0], False, latest[1])
                if len(set(subjects)) == len(rows):
                    self._insert_first_verdicts(rows, subjects, out, now)
            for k, row in enumerate(rows):
                if out[k] is None:
                    run, checkpoint, step, decision, confidence, stage, summary, reasons = row
                    out[k] = self.put_verdict(run, checkpoint, step=step, decision=decision, confidence=confidence,
                                              stage=stage, summary=summary, reasons=reasons)  # fmt: skip
        return [o for o in out if o is not None]

    def _insert_first_verdicts(self, rows: Sequence[VerdictRow], subjects: list[str],
                               out: list[VerdictWrite | None], now: float) -> None:  # fmt: skip
        """The rows still to write whose subject has no verdict yet (every run of a first scan) inserted in one
        statement, in the rows' order, as :meth:`put_verdict` would one by one: each gets the next rowid."""
        todo = [k for k, o in enumerate(out) if o is None]
        had: set[str] = set()
        for lo in range(0, len(todo), 500):
            part = [subjects[k] for k in todo[lo : lo + 500]]
            asked = {s if s.isascii() else storable(s): s for s in part}  # stored spelling → the one asked
            sql = f"SELECT DISTINCT subject FROM verdicts WHERE subject IN ({', '.join('?' * len(part))})"
            had.update(asked.get(r[0], r[0]) for r in self.conn.execute(sql, part))
        first = [k for k in todo if subjects[k] not in had]
        if not first or len(first) < len(todo):  # mixed with new decisions: one by one keeps the ids in row order
            return
        (top,) = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM verdicts").fetchone()
        params = [(self._run_id(run), self._checkpoint_id(checkpoint), subjects[k], step, decision,
                   finite_or_none(confidence), stage, summary, encode_reasons(reasons), now, now)
                  for k in first for run, checkpoint, step, decision, confidence, stage, summary, reasons in (rows[k],)]
        self.conn.executemany("INSERT INTO verdicts(run_id, checkpoint_id, subject, step, decision, confidence, stage, "
                              "summary, reasons, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)", params)
        ids = [int(i) for (i,) in self.conn.execute("SELECT id FROM verdicts WHERE id > ? ORDER BY id", (top,))]
        assert len(ids) == len(first), "one writer: the rows inserted are the ones after the highest id before"
        for k, vid in zip(first, ids, strict=True):
            out[k] = VerdictWrite(vid, True, None)
            self._latest_verdicts[subjects[k]] = (vid, rows[k][3], rows[k][6])

    # -- actions (the audit ledger) ------------------------------------------------------------------------
    def begin_action(
        self,
        run: str,
        verdict_id: int | None,
        kind: str,
        *,
        target: str | None,
        dry_run: bool,
        state: str,
        audit: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> tuple[int, bool]:
        """Create the ledger entry for (run, kind, verdict) unless it exists; returns (action id, created).

        The UNIQUE constraint is what makes an action happen at most once, across restarts.
        """
        now = self.now()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO actions(run_id, verdict_id, kind, target, dry_run, state, audit, detail, "
                "created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (self._run_id(run), verdict_id, kind, target, int(dry_run), state, audit, dumps(detail), now, now),
            )
            if cur.rowcount == 1:
                return int(cur.lastrowid or 0), True
            row = conn.execute(
                "SELECT id FROM actions WHERE run_id = ? AND kind = ? AND verdict_id IS ?",
                (self._run_id(run), kind, verdict_id),
            ).fetchone()
            return int(row[0]), False

    def update_action(
        self,
        action_id: int,
        *,
        state: str | None = None,
        audit: str | None = None,
        attempts: int | None = None,
        next_at: float | bool | None = False,
        target: str | None = None,
        detail: Mapping[str, Any] | None = None,
        dry_run: bool | None = None,
    ) -> None:
        sets: dict[str, Any] = {} if dry_run is None else {"dry_run": int(dry_run)}
        for key, value in (("state", state), ("audit", audit), ("attempts", attempts), ("target", target)):
            if value is not None:
                sets[key] = value
        if next_at is not False:
            sets["next_at"] = next_at
        if detail is not None:
            sets["detail"] = dumps(detail)
        sets["updated_at"] = self.now()
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE actions SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", (*sets.values(), action_id)
            )

    # -- commands, events, health --------------------------------------------------------------------------
    def finish_command(self, command_id: int, result: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE commands SET consumed_at = ?, result = ? WHERE id = ? AND consumed_at IS NULL",
                (self.now(), result, command_id),
            )

    def add_event(self, level: str, kind: str, message: str, run: str | None = None) -> int:
        """Append to the event feed (kept to the newest EVENTS_KEPT rows)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO events(time, level, kind, run, message) VALUES(?,?,?,?,?)",
                (self.now(), level, kind, run, message),
            )
            event_id = int(cur.lastrowid or 0)
            if event_id % 100 == 0:
                conn.execute("DELETE FROM events WHERE id <= ?", (event_id - EVENTS_KEPT,))
            return event_id

    def set_health(self, **values: Any) -> None:
        """Daemon self-report (pid, host, watch_mode, armed, heartbeat, last_event, errors …)."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO health(key, value) VALUES(?, ?)",
                [(k, None if v is None else str(v)) for k, v in values.items()],
            )


def subject_of(run: str, checkpoint: str | None) -> str:
    """The key of a ranked candidate: the run, or ``run@checkpoint-path``."""
    return run if checkpoint is None else f"{run}@{checkpoint}"
