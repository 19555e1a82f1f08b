"""Stopping a run, as a resumable state machine persisted in the action ledger.

``pending`` → (graceful signal, default ``scancel --signal=USR1 --batch``) → ``signalled`` → grace period →
``scancel`` → ``cancelling`` → the job has left the queue → ``done``. Each step is written to the ledger
*before* it is taken, so a daemon restarted at any moment resumes where it was and never signals twice.
Safety checks come first and each ends the action with one audit line: per-run opt-out, a job that cannot
be identified, a job the user does not own, dry-run (not armed), the kills-per-hour limit. Slurm failing,
missing or hanging is alerted and retried with backoff; it never raises out of :meth:`Escalator.tick`.

The daemon needs two calls: :meth:`Escalator.request` when a KILL verdict is issued, and
:meth:`Escalator.tick` on every loop iteration.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rankinv.daemon.actions import audit, ownership
from rankinv.daemon.actions import ledger as L
from rankinv.daemon.actions.ledger import ActionKey, ActionState, Ledger
from rankinv.daemon.actions.resolve import MATCH_KEYS, Target, resolve
from rankinv.daemon.actions.slurm import Slurm, SlurmError
from rankinv.daemon.notify.event import Event

from rankinv.config import ActionsConfig
from rankinv.errors import RankinvError
from rankinv.store import DatabaseError

log = logging.getLogger("rankinv.daemon")
HOUR = 3600.0
MAX_BACKOFF = 600.0
FAILURES = (SlurmError, OSError)


@dataclass(frozen=True)
class KillRequest:
    """A KILL verdict to act on. ``reason`` is the verdict's own words, e.g. ``entropy drop 0.64 > 0.50 (…)``."""

    run: str
    run_dir: str
    verdict_id: int
    step: int | None = None
    reason: str = ""


def signal_number(name: str) -> int:
    """``USR1`` → SIGUSR1; a clear error for a name this system does not know."""
    try:
        return int(signal.Signals["SIG" + name.upper().removeprefix("SIG")])
    except KeyError:
        raise RankinvError(f"[actions] graceful_signal = {name!r} is not a signal name (try USR1, TERM, INT)") from None


class Escalator:
    """Acts on KILL requests through the ledger; see the module docstring for the states."""

    def __init__(
        self,
        ledger: Ledger,
        config: ActionsConfig,
        *,
        slurm: Slurm | None = None,
        alert: Callable[[Event], object] = lambda event: None,
        armed: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.time,
        uid: int | None = None,
        retry_backoff: float = 10.0,
        poll_seconds: float = 10.0,
    ):
        if config.graceful_signal:
            signal_number(config.graceful_signal)
        unknown = sorted(set(config.match_by) - set(MATCH_KEYS))
        if unknown:
            raise RankinvError(f"[actions] match_by: unknown {unknown}; use any of {', '.join(MATCH_KEYS)}")
        self.ledger, self.config, self.alert, self.clock = ledger, config, alert, clock
        self.slurm = slurm or Slurm(timeout=config.slurm_timeout, retries=config.slurm_retries)
        self.armed = armed or (lambda: config.armed)
        self.uid = os.getuid() if uid is None else uid
        self.retry_backoff, self.poll_seconds = retry_backoff, poll_seconds
        self._polled: dict[ActionKey, tuple[float, float]] = {}  # last poll, gap before the next

    # -- public API -------------------------------------------------------------------------------------

    def request(self, req: KillRequest) -> ActionState:
        """Start acting on a KILL verdict; idempotent per (run, verdict) and per run while one is open."""
        key = ActionKey(req.run, req.verdict_id, "kill")
        existing = self.ledger.get(key) or next((r for r in self.ledger.open_actions() if r.key.run == req.run), None)
        if existing is not None:
            return existing
        now = self.clock()
        record = ActionState(key, L.PENDING, now, now, req.run_dir, req.step, req.reason, armed=self.armed())
        self.ledger.put(record)
        return self.advance(record)

    def tick(self) -> list[ActionState]:
        """Advance every open action one step (a no-op while waiting); returns their new states."""
        return [self.advance(record) for record in self.ledger.open_actions()]

    def advance(self, record: ActionState) -> ActionState:
        if not record.is_open or self.clock() < record.next_try_at:
            return record
        step = {L.PENDING: self._start, L.SIGNALLED: self._after_signal, L.CANCELLING: self._confirm}[record.state]
        try:
            return step(record)
        except FAILURES as exc:
            return self._retry(record, exc)
        except DatabaseError:
            raise  # the store itself is failing: not this run's problem, and not to be recorded in it
        except Exception as exc:  # poisoned input or a bug, for this run only: alert, keep acting for the others
            log.exception("action for run %s failed", record.key.run)
            return self._broken(record, exc)

    # -- steps --------------------------------------------------------------------------------------------

    def _start(self, record: ActionState) -> ActionState:
        if self._opted_out(record):
            return self._finish(record, L.OPTED_OUT, "ALERT ONLY: run opted out")
        target = resolve(Path(record.run_dir), record.key.run, self.slurm, self.config.match_by, self.uid)
        if target.kind == "none":
            return self._finish(record, L.UNRESOLVED, f"ALERT ONLY: job not identified ({target.how})")
        record = replace(record, target=target.encode())
        owner = ownership.check(target, self.slurm, self.uid)
        if not owner.ok:
            return self._not_ok(record, owner)
        if not self.armed():
            outcome = f"DRY-RUN would KILL {target.label()} ({audit.plan(self.config)}); not armed"
            return self._finish(record, L.DRY_RUN, outcome)
        kills = self.ledger.kills_since(self.clock() - HOUR)
        if kills >= self.config.max_kills_per_hour:
            limit = self.config.max_kills_per_hour
            return self._finish(record, L.RATE_LIMITED, f"ALERT ONLY: {kills} kills in the last hour (max {limit})")
        return self._signal(record, target) if self.config.graceful_signal else self._cancel(record, target)

    def _poll_due(self, record: ActionState) -> bool:
        """While waiting, ask Slurm about the job often at first, then every ``poll_seconds`` (squeue is not free)."""
        now = self.clock()
        last, gap = self._polled.get(record.key, (None, 0.5))
        if last is not None and now - last < gap:
            return False
        self._polled[record.key] = (now, min(gap * 2, self.poll_seconds))
        return True

    def _opted_out(self, record: ActionState) -> bool:
        """Per-run opt-out: ``[actions] opt_out`` (name or directory) or the run's flag in the store."""
        listed = record.key.run in self.config.opt_out or record.run_dir in self.config.opt_out
        return listed or self.ledger.opted_out(record.key.run)

    def _signal(self, record: ActionState, target: Target) -> ActionState:
        now = self.clock()
        name = self.config.graceful_signal
        record = self._put(record, state=L.SIGNALLED, armed=True, signalled_at=now, acted_at=now, attempts=0,
                           detail=f"{name} sent")  # fmt: skip
        try:
            self._send(target, name)
        except FAILURES as exc:
            self._alert(record, "error", f"{name} to {target.label()} failed ({exc}); going straight to cancel")
            return self._cancel(record, target)
        self._alert(record, "signalled", f"{name} sent to {target.label()}; cancel in {self.config.grace_seconds:g} s")
        return record

    def _after_signal(self, record: ActionState) -> ActionState:
        target = Target.decode(record.target)
        if not self.armed():
            return self._finish(record, L.ABORTED, f"ABORTED: disarmed during the grace period; {target.label()} left")
        grace_over = self.clock() >= (record.signalled_at or 0.0) + self.config.grace_seconds
        if not grace_over and not self._poll_due(record):
            return record
        owner = ownership.check(target, self.slurm, self.uid)
        if not owner.ok:
            return self._not_ok(record, owner)
        return self._cancel(record, target) if grace_over else record

    def _cancel(self, record: ActionState, target: Target) -> ActionState:
        now = self.clock()
        record = self._put(record, state=L.CANCELLING, armed=True, acted_at=record.acted_at or now, cancelled_at=None)
        self._terminate(target, force=False)
        self._polled.pop(record.key, None)  # confirm soon
        return self._put(record, cancelled_at=self.clock(), detail=f"{self._stop_word(target)} sent")

    def _confirm(self, record: ActionState) -> ActionState:
        target = Target.decode(record.target)
        if record.cancelled_at is None:  # the last cancel failed: check again, then retry it
            owner = ownership.check(target, self.slurm, self.uid)
            return self._cancel(record, target) if owner.ok else self._not_ok(record, owner)
        if not self._poll_due(record):
            return record
        owner = ownership.check(target, self.slurm, self.uid)
        if owner.status == ownership.GONE:
            return self._finish(record, L.DONE, self._kill_outcome(record, target))
        if owner.status == ownership.NOT_OWNER:
            return self._not_ok(record, owner)
        if self.clock() - record.cancelled_at < self.config.confirm_seconds:
            return record
        self._alert(record, "error", f"{target.label()} still running {self.config.confirm_seconds:g} s after cancel")
        self._terminate(target, force=True)
        return self._put(record, cancelled_at=self.clock(), attempts=record.attempts + 1)

    # -- acting -----------------------------------------------------------------------------------------

    def _send(self, target: Target, name: str) -> None:
        if target.kind == "slurm":
            self.slurm.scancel(target.job_id, signal=name, batch=True)
        else:
            os.kill(target.pid, signal_number(name))

    def _terminate(self, target: Target, force: bool) -> None:
        if target.kind == "slurm":
            self.slurm.scancel(target.job_id)
        else:
            os.kill(target.pid, signal.SIGKILL if force else signal.SIGTERM)

    @staticmethod
    def _stop_word(target: Target) -> str:
        return "scancel" if target.kind == "slurm" else "SIGTERM"

    def _kill_outcome(self, record: ActionState, target: Target) -> str:
        how = f"{self._stop_word(target)} ok" if record.cancelled_at is not None else "exited during grace"
        return f"KILL {target.label()} ({audit.plan(self.config)}, {how})"

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _not_ok(self, record: ActionState, owner: ownership.Ownership) -> ActionState:
        target = Target.decode(record.target)
        if owner.status == ownership.GONE and record.state != L.PENDING:
            return self._finish(record, L.DONE, self._kill_outcome(record, target))
        if owner.status == ownership.GONE:
            return self._finish(record, L.GONE, f"NOTHING TO DO: {owner.why}")
        return self._finish(record, L.NOT_OWNER, f"NOT ACTED: {owner.why}")

    def _put(self, record: ActionState, **changes: Any) -> ActionState:
        record = replace(record, updated_at=self.clock(), **changes)
        self.ledger.put(record)
        return record

    def _finish(self, record: ActionState, state: str, outcome: str) -> ActionState:
        line = audit.emit(audit.line(record.key.run, record.step, record.reason, outcome))
        record = self._put(record, state=state, audit=line, detail=outcome, next_try_at=0.0)
        self._alert(record, state, line)
        return record

    def _retry(self, record: ActionState, exc: BaseException) -> ActionState:
        record = self.ledger.get(record.key) or record  # the failed step may have moved the state on
        attempts = record.attempts + 1
        delay = min(self.retry_backoff * 2 ** (attempts - 1), MAX_BACKOFF)
        record = self._put(record, attempts=attempts, next_try_at=self.clock() + delay, detail=str(exc))
        self._alert(record, "error", f"{exc}; retry {attempts} in {delay:g} s")
        return record

    def _broken(self, record: ActionState, exc: Exception) -> ActionState:
        """An unexpected error (a poisoned record, a bug) ends this action with an alert; retrying would repeat it."""
        why = f"{type(exc).__name__}: {exc}"
        record = self.ledger.get(record.key) or record  # the failed step may have moved the state on
        if record.state == L.PENDING:
            return self._finish(record, L.UNRESOLVED, f"ALERT ONLY: could not act ({why})")
        target = Target.decode(record.target).label()
        return self._finish(record, L.ABORTED, f"ABORTED: error while stopping {target} ({why}); check it by hand")

    def _alert(self, record: ActionState, kind: str, body: str) -> None:
        severity = "critical" if kind in ("error", L.DONE, L.SIGNALLED) else "warning"
        title = f"rankinv: {record.key.run} {kind.replace('_', '-')}"
        key = f"{record.key.run}|{record.key.verdict_id}|{kind}|{record.attempts}"
        self.alert(Event(kind, title, body, run=record.key.run, severity=severity, key=key))
