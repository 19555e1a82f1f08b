"""Acting on verdicts through the escalator (``rankinv.daemon.actions``), and announcing new verdicts.

Every KILL verdict is handed to the escalator on every evaluation, not only when new: the escalator's
ledger (the store's ``actions`` table) makes that idempotent, and it means a daemon killed between storing a
verdict and acting on it still acts after the restart — exactly once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rankinv.daemon.actions.escalate import Escalator, KillRequest
from rankinv.daemon.actions.service import build_escalator
from rankinv.daemon.notify.dispatch import Dispatcher, build_dispatcher
from rankinv.daemon.notify.event import Event
from rankinv.daemon.pipeline.brain import Outcome

from rankinv.config import Config
from rankinv.errors import RankinvError
from rankinv.store import Store

log = logging.getLogger("rankinv.daemon")
LEVEL = {"KILL": "alert", "WATCH": "warning", "CONTINUE": "info"}


def make_dispatcher(config: Config) -> Dispatcher:
    """The daemon's alert channels; a detached daemon has no terminal, so the TUI does terminal alerts."""
    try:
        return build_dispatcher(config.notify)
    except ValueError as exc:
        raise RankinvError(f"[notify]: {exc}") from None


class Actions:
    def __init__(self, root: Path, config: Config, store: Store):
        self.store = store
        self.dispatcher = make_dispatcher(config)
        self.escalator: Escalator = build_escalator(root, config, store, self.dispatcher)

    def on_outcome(self, outcome: Outcome, run_dir: str) -> None:
        verdict = outcome.verdict
        if outcome.is_new:
            self._announce(outcome)
        if verdict.decision.value == "KILL" and outcome.checkpoint is None:
            first = self.episode_start(outcome.run, outcome.verdict_id)
            # the audit line names the run and step itself: the reason is the verdict's summary alone
            self.request_kill(outcome.run, run_dir, first, verdict.step, verdict.summary())

    def episode_start(self, run: str, verdict_id: int) -> int:
        """The first verdict of the unbroken run of KILL verdicts ending at ``verdict_id``.

        A KILL whose reasons change is a new verdict row but the same decision about the same job: keying the
        action on the first KILL of the streak means one action per streak, never one per wording.
        """
        first = verdict_id
        for v in self.store.verdicts(run, limit=1000):  # newest first
            if v.id > verdict_id or v.subject != run:
                continue
            if v.decision != "KILL":
                break
            first = v.id
        return first

    def request_kill(self, run: str, run_dir: str, verdict_id: int, step: int | None, reason: str) -> None:
        self.escalator.request(KillRequest(run, run_dir, verdict_id, step, reason))

    def tick(self) -> None:
        self.escalator.tick()

    def _announce(self, outcome: Outcome) -> None:
        """A new decision is an event at its level and, for KILL (and a checkpoint's WATCH), an alert; the same
        decision with other reasons or values (a new verdict row all the same) is an info event, never an alert."""
        v = outcome.verdict
        subject = outcome.run if outcome.checkpoint is None else f"{outcome.run} {Path(outcome.checkpoint).name}"
        log.info("verdict %s", v.audit(subject))
        if outcome.previous == v.decision.value:  # the store read it when writing this verdict
            self.store.add_event("info", "verdict", f"{subject}: reasons changed: {v.summary()}", outcome.run)
            return
        text = f"{subject}: {v.summary()}"
        self.store.add_event(LEVEL.get(v.decision.value, "info"), "verdict", text, outcome.run)
        if v.decision.value == "KILL" or (v.decision.value == "WATCH" and outcome.checkpoint is not None):
            severity = "critical" if v.decision.value == "KILL" else "warning"
            self.dispatcher.send(Event("verdict", f"{v.decision.value} {subject}", v.summary(), outcome.run, severity))
