"""What the TUI, ``rankinv status`` and scripts read: immutable records, one consistent transaction each."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rankinv.boundary.text import storable
from rankinv.messages import (
    Command,
    MessageError,
    Reason,
    TriageSummary,
    decode_command,
    decode_reasons,
    decode_triage_summary,
    unreadable_reason,
)
from rankinv.store.base import StoreBase, loads
from rankinv.store.ranking import candidates_of, rank
from rankinv.store.records import (
    ActionRecord,
    CheckpointRecord,
    CommandRecord,
    EventRecord,
    Health,
    RunRecord,
    Series,
    Snapshot,
    VerdictRecord,
)
from rankinv.store.writes import subject_of

if TYPE_CHECKING:
    from rankinv.triage.report import TriageReport

HEARTBEAT_STALE_SECONDS = 30.0

_RUN_COLUMNS = (
    "name, path, kind, parent, status, error, manifest, job_id, job_state, last_step, pinned, opt_out, "
    "acknowledged_verdict, updated_at, job_node, job_elapsed, job_checked_at"
)


def _run(r: Sequence[Any]) -> RunRecord:
    return RunRecord(
        name=r[0],
        path=r[1],
        kind=r[2],
        parent=r[3],
        status=r[4],
        error=r[5],
        manifest=loads(r[6]),
        job_id=r[7],
        job_state=r[8],
        last_step=r[9],
        pinned=r[10],
        opt_out=bool(r[11]),
        acknowledged_verdict=r[12],
        updated_at=r[13],
        job_node=r[14],
        job_elapsed=r[15],
        job_checked_at=r[16],
    )


def _verdict(r: Sequence[Any]) -> VerdictRecord:
    return VerdictRecord(
        id=r[0],
        run=r[1],
        subject=r[2],
        step=r[3],
        decision=r[4],
        confidence=r[5],
        stage=r[6],
        summary=r[7],
        reasons=_reasons(r[8]),
        created_at=r[9],
        updated_at=r[10],
    )


def _reasons(text: str | None) -> tuple[Reason, ...]:
    try:
        return decode_reasons(text)
    except MessageError as exc:
        return (unreadable_reason(exc),)


def _command(r: Sequence[Any]) -> CommandRecord:
    command: Command | None = None
    try:
        command, problem = decode_command(r[1], r[2], r[3]), None
    except MessageError as exc:
        problem = str(exc)
    return CommandRecord(r[0], r[1], r[2], command, problem, r[4], r[5], r[6], r[7])


_ACTION_SELECT = (
    "SELECT a.id, r.name, a.verdict_id, a.kind, a.target, a.dry_run, a.state, a.attempts, a.next_at, "
    "a.audit, a.detail, a.created_at, a.updated_at FROM actions a JOIN runs r ON r.id = a.run_id"
)


def _detail(text: str | None) -> Any:
    """An action's detail; a corrupt one is shown as such instead of failing every reader of the table."""
    try:
        return loads(text)
    except ValueError:
        return {"unreadable": True}


def _action(row: Sequence[Any]) -> ActionRecord:
    return ActionRecord(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        bool(row[5]),
        row[6],
        row[7],
        row[8],
        row[9],
        _detail(row[10]),
        row[11],
        row[12],
    )


class Reads(StoreBase):
    def run(self, name: str) -> RunRecord | None:
        row = self.conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE name = ?", (name,)).fetchone()
        return _run(row) if row else None

    def runs(self) -> tuple[RunRecord, ...]:
        return tuple(_run(r) for r in self.conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY name"))

    def runs_named(self, names: Iterable[str]) -> dict[str, RunRecord]:
        """The records of the named runs that exist, each under the name asked for, in a few statements (a batch
        of judgements reads them at once); as :meth:`run` finds them (a name SQLite cannot hold is looked up, and
        comes back, in its escaped form)."""
        wanted = list(dict.fromkeys(names))
        out: dict[str, RunRecord] = {}
        for lo in range(0, len(wanted), 500):
            part = wanted[lo : lo + 500]
            asked = {n if n.isascii() else storable(n): n for n in part}
            sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE name IN ({', '.join('?' * len(part))})"
            out.update((asked.get(r[0], r[0]), _run(r)) for r in self.conn.execute(sql, part))
        return out

    def run_errors(self) -> dict[str, str]:
        """Each vanished or failed run's message (\"\" when it has none), without decoding every record."""
        rows = self.conn.execute("SELECT name, error FROM runs WHERE status IN ('error', 'vanished')")
        return {str(name): error or "" for name, error in rows}

    def checkpoints(self, run: str | None = None) -> tuple[CheckpointRecord, ...]:
        if run:
            return self._checkpoints(" WHERE r.name = ? ORDER BY c.step", (run,))
        return self._checkpoints(" ORDER BY r.name, c.step", ())

    def _checkpoints(self, where: str, args: tuple[Any, ...]) -> tuple[CheckpointRecord, ...]:
        sql = (
            "SELECT r.name, c.path, c.step, c.complete, c.reason, c.triage_state, c.triage_error, c.triage_job "
            "FROM checkpoints c JOIN runs r ON r.id = c.run_id"
        )
        rows = self.conn.execute(sql + where, args)
        return tuple(CheckpointRecord(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7]) for r in rows)

    def checkpoint(self, path: str) -> CheckpointRecord | None:
        return next((c for c in self._checkpoints(" WHERE c.path = ?", (path,))), None)

    def series(self, run: str, names: Iterable[str] | None = None) -> dict[str, Series]:
        """Metric series of a run by canonical name (NULL values come back as NaN)."""
        sql = "SELECT m.name, m.step, m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.name = ?"
        params: list[Any] = [run]
        wanted = list(names) if names is not None else None
        if wanted is not None:
            sql += f" AND m.name IN ({','.join('?' * len(wanted))})"
            params += wanted
        grouped: dict[str, tuple[list[int], list[float]]] = {}
        for name, step, value in self.conn.execute(sql + " ORDER BY m.name, m.step", params):
            steps, values = grouped.setdefault(name, ([], []))
            steps.append(int(step))
            values.append(math.nan if value is None else float(value))
        return {n: Series(n, tuple(s), tuple(v)) for n, (s, v) in grouped.items()}

    def peaks(self, prefix: str, suffix: str) -> dict[str, float]:
        """Per run, the highest finite value of any metric named ``prefix…suffix`` (runs without one left out)."""
        rows = self.conn.execute(
            "SELECT r.name, MAX(m.value) FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE substr(m.name, 1, ?) = ? AND substr(m.name, -?) = ? "
            "AND m.value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308 GROUP BY r.name",
            (len(prefix), prefix, len(suffix), suffix),
        )
        return {str(name): float(value) for name, value in rows}

    def judged_current(self, pin_reason: str) -> set[str]:
        """Runs whose monitor row was written after every ingest of their logs and whose latest verdict was made
        with their current pin (its reasons name ``pin_reason`` exactly when the run is pinned)."""
        rows = self.conn.execute(
            "SELECT r.name FROM runs r JOIN monitor m ON m.run_id = r.id "
            "JOIN (SELECT subject, MAX(id) AS id FROM verdicts GROUP BY subject) last ON last.subject = r.name "
            "JOIN verdicts v ON v.id = last.id "
            "LEFT JOIN (SELECT run_id, MAX(updated_at) AS at FROM offsets GROUP BY run_id) o ON o.run_id = r.id "
            "WHERE m.updated_at >= COALESCE(o.at, 0) "
            "AND (COALESCE(r.pinned, '') = 'continue') = (instr(v.reasons, ?) > 0)",
            (pin_reason,),
        )  # grouped once, not looked up per run (offsets have no index by run)
        return {str(r[0]) for r in rows}

    def metric_names(self, run: str) -> tuple[str, ...]:
        """The canonical names of every metric a run has logged."""
        rows = self.conn.execute(
            "SELECT DISTINCT m.name FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.name = ? ORDER BY m.name",
            (run,),
        )
        return tuple(str(r[0]) for r in rows)

    def has_metrics(self, run: str) -> bool:
        sql = "SELECT 1 FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.name = ? LIMIT 1"
        return self.conn.execute(sql, (run,)).fetchone() is not None

    def metric_count(self, run: str | None = None) -> int:
        if run is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.name = ?", (run,)
            ).fetchone()[0]
        )

    def offset(self, path: str) -> str | None:
        row = self.conn.execute("SELECT state FROM offsets WHERE path = ?", (path,)).fetchone()
        return None if row is None else str(row[0])

    def offsets(self) -> dict[str, str]:
        """Every stored offset by path (one query, for a pass over every run)."""
        return {str(path): str(state) for path, state in self.conn.execute("SELECT path, state FROM offsets")}

    def triage_report(self, checkpoint: str) -> TriageReport | None:
        """The full stage-1 report; raises RankinvError if the stored JSON is not a valid report."""
        from rankinv.triage.report import TriageReport

        row = self.conn.execute(
            "SELECT t.report FROM triage_reports t JOIN checkpoints c ON c.id = t.checkpoint_id WHERE c.path = ?",
            (checkpoint,),
        ).fetchone()
        return None if row is None else TriageReport.from_json(row[0], f"stored triage report of {checkpoint}")

    def triage_summary(self, checkpoint: str) -> TriageSummary | None:
        """The report's summary, None when there is no report; MessageError says why a stored one is unreadable."""
        row = self.conn.execute(
            "SELECT t.summary FROM triage_reports t JOIN checkpoints c ON c.id = t.checkpoint_id WHERE c.path = ?",
            (checkpoint,),
        ).fetchone()
        return None if row is None else decode_triage_summary(row[0])

    def verdicts(self, run: str | None = None, limit: int = 100) -> tuple[VerdictRecord, ...]:
        sql = (
            "SELECT v.id, r.name, v.subject, v.step, v.decision, v.confidence, v.stage, v.summary, v.reasons, "
            "v.created_at, v.updated_at FROM verdicts v JOIN runs r ON r.id = v.run_id"
        )
        if run is None:
            rows = self.conn.execute(sql + " ORDER BY v.id DESC LIMIT ?", (limit,))
        else:
            rows = self.conn.execute(sql + " WHERE r.name = ? ORDER BY v.id DESC LIMIT ?", (run, limit))
        return tuple(_verdict(r) for r in rows)

    def latest_verdict(self, run: str, checkpoint: str | None = None) -> VerdictRecord | None:
        row = self.conn.execute(
            "SELECT v.id, r.name, v.subject, v.step, v.decision, v.confidence, v.stage, v.summary, v.reasons, "
            "v.created_at, v.updated_at FROM verdicts v JOIN runs r ON r.id = v.run_id WHERE v.subject = ? "
            "ORDER BY v.id DESC LIMIT 1",
            (subject_of(run, checkpoint),),
        ).fetchone()
        return _verdict(row) if row else None

    def actions(self, run: str | None = None, limit: int = 200) -> tuple[ActionRecord, ...]:
        if run is None:
            rows = self.conn.execute(_ACTION_SELECT + " ORDER BY a.id DESC LIMIT ?", (limit,))
        else:
            rows = self.conn.execute(_ACTION_SELECT + " WHERE r.name = ? ORDER BY a.id DESC LIMIT ?", (run, limit))
        return tuple(_action(r) for r in rows)

    def latest_kills(self) -> dict[str, ActionRecord]:
        """Each run's newest kill action (the job's fate, for the job column), however many actions came after."""
        rows = self.conn.execute(
            _ACTION_SELECT + " WHERE a.id IN (SELECT MAX(id) FROM actions WHERE kind = 'kill' GROUP BY run_id)"
        )
        return {action.run: action for action in map(_action, rows)}

    def action(self, run: str, kind: str, verdict_id: int | None) -> ActionRecord | None:
        """The ledger entry for (run, kind, verdict), if any."""
        sql = _ACTION_SELECT + " WHERE r.name = ? AND a.kind = ? AND a.verdict_id IS ?"
        row = self.conn.execute(sql, (run, kind, verdict_id)).fetchone()
        return _action(row) if row else None

    def slurm_jobs(self) -> dict[str, str]:
        """Each run's Slurm job id: the one its latest kill acted on, else the one its manifest names."""
        jobs = {r[0]: r[1] for r in self.conn.execute("SELECT name, job_id FROM runs WHERE job_id IS NOT NULL")}
        for name, target in self.conn.execute(
            "SELECT r.name, a.target FROM actions a JOIN runs r ON r.id = a.run_id WHERE a.kind = 'kill' "
            "AND a.target LIKE 'slurm:%' ORDER BY a.id"
        ):
            jobs[name] = target.removeprefix("slurm:")
        return jobs

    def actions_in(self, states: Sequence[str]) -> tuple[ActionRecord, ...]:
        """Every action in one of ``states``, oldest first."""
        marks = ",".join("?" * len(states))
        rows = self.conn.execute(_ACTION_SELECT + f" WHERE a.state IN ({marks}) ORDER BY a.id", tuple(states))
        return tuple(_action(r) for r in rows)

    def acted_since(self, kind: str, since: float) -> int:
        """How many ``kind`` actions record (in their detail) having acted at or after ``since``."""
        acted = "CASE WHEN json_valid(detail) THEN json_extract(detail, '$.acted_at') END"  # a corrupt row: not
        sql = f"SELECT COUNT(*) FROM actions WHERE kind = ? AND {acted} >= ?"  # counted, never fatal
        return int(self.conn.execute(sql, (kind, since)).fetchone()[0])

    def pending_commands(self) -> tuple[CommandRecord, ...]:
        rows = self.conn.execute(
            "SELECT id, kind, run, args, source, created_at, consumed_at, result FROM commands "
            "WHERE consumed_at IS NULL ORDER BY id"
        )
        return tuple(_command(r) for r in rows)

    def events(self, limit: int = 50, after_id: int = 0) -> tuple[EventRecord, ...]:
        rows = self.conn.execute(
            "SELECT id, time, level, kind, run, message FROM events WHERE id > ? ORDER BY id DESC LIMIT ?",
            (after_id, limit),
        )
        return tuple(EventRecord(*r) for r in rows)

    def ingest_notes(self, limit: int) -> tuple[EventRecord, ...]:
        """The newest ``limit`` notes the readers made (what a log held that could not be read as it said), newest
        first."""
        rows = self.conn.execute(
            "SELECT id, time, level, kind, run, message FROM events WHERE kind = 'ingest' ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return tuple(EventRecord(*r) for r in rows)

    def has_event(self, kind: str, run: str | None, prefix: str, part: str) -> bool:
        """Does the feed still hold a ``kind`` event of ``run`` whose message starts with ``prefix`` and holds
        ``part``? (A note said by an earlier scan is not said again.)"""
        row = self.conn.execute(
            "SELECT 1 FROM events WHERE kind = ? AND run IS ? AND substr(message, 1, length(?)) = ? "
            "AND instr(message, ?) > 0 LIMIT 1",
            (kind, run, prefix, prefix, part),
        ).fetchone()
        return row is not None

    def health(self) -> Health:
        values = {k: v for k, v in self.conn.execute("SELECT key, value FROM health") if v is not None}
        try:
            alive = time.time() - float(values.get("heartbeat", "0")) < HEARTBEAT_STALE_SECONDS
        except ValueError:
            alive = False
        return Health(values, alive)

    def snapshot(self, events: int = 50) -> Snapshot:
        """The ranking, the event feed and daemon health, read in one transaction."""
        self.conn.execute("BEGIN")
        try:
            candidates = rank(candidates_of(self.conn, self.runs()))
            feed = self.events(events)
            health = self.health()
        finally:
            self.conn.execute("COMMIT")
        return Snapshot(time.time(), candidates, feed, health)
