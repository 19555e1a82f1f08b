"""One line a person can read for every decision, e.g.

``run grpo-5p8 step 150: entropy drop 0.64 > 0.50 (steps 10→150) → KILL job 1234 (USR1, grace 120 s, scancel ok)``

The line is stored with the action (the store's audit log) and written to the ``rankinv.audit`` logger.
"""

from __future__ import annotations

import logging

from rankinv.config import ActionsConfig

log = logging.getLogger("rankinv.audit")


def plan(config: ActionsConfig) -> str:
    """The escalation in brief: ``USR1, grace 120 s``."""
    if not config.graceful_signal:
        return "no graceful signal"
    return f"{config.graceful_signal}, grace {config.grace_seconds:g} s"


def line(run: str, step: int | None, reason: str, outcome: str) -> str:
    where = f"run {run}" if step is None else f"run {run} step {step}"
    return f"{where}: {reason or 'KILL verdict'} → {outcome}"


def emit(text: str) -> str:
    log.warning("%s", text)
    return text
