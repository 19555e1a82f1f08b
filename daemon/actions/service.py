"""Wiring for the daemon: one call builds the escalator for a runs root from the config and the store.

escalator = build_escalator(root, config, store, dispatcher)
escalator.request(KillRequest(run, run_dir, verdict_id, step, reason))   # when a KILL verdict is issued
escalator.tick()                                                         # every loop iteration
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rankinv.daemon.actions.arming import read_armed
from rankinv.daemon.actions.escalate import Escalator
from rankinv.daemon.actions.ledger import StoreLedger
from rankinv.daemon.actions.slurm import Slurm
from rankinv.daemon.notify.event import Event

from rankinv.config import Config

if TYPE_CHECKING:
    from rankinv.daemon.notify.dispatch import Dispatcher

    from rankinv.store import Store

LEVELS = {"info": "info", "warning": "warning", "critical": "alert"}


def alert_sink(store: Store, dispatcher: Dispatcher | None) -> Callable[[Event], None]:
    """Every alert goes to the store's event feed (the TUI shows it) and out through the channels."""

    def alert(event: Event) -> None:
        store.add_event(LEVELS.get(event.severity, "warning"), event.kind, event.feed_line(), event.run or None)
        if dispatcher is not None:
            dispatcher.send(event)

    return alert


def build_escalator(
    root: str | Path, config: Config, store: Store, dispatcher: Dispatcher | None = None, slurm: Slurm | None = None
) -> Escalator:
    """The escalator for ``root``: ledger in ``store``, arm switch from ``rankinv arm``/the config."""
    actions, base = config.actions, config.daemon.state_dir
    return Escalator(
        StoreLedger(store), actions,
        slurm=slurm or Slurm(timeout=actions.slurm_timeout, retries=actions.slurm_retries),
        alert=alert_sink(store, dispatcher),
        armed=lambda: read_armed(root, actions, base).armed,
    )  # fmt: skip
