"""Commands the TUI and scripts queue in the store (:class:`~rankinv.messages.Command`), applied by the daemon.

Each is consumed once: its result (``ok: …`` or ``error: …``) is written back with ``finish_command``, so
the writer sees what happened. A malformed command or an unknown run is an error result, never an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rankinv.daemon.actions.arming import set_armed

from rankinv.messages import Command, CommandKind
from rankinv.store import CommandRecord, Store

log = logging.getLogger("rankinv.daemon")


@dataclass(frozen=True)
class Hooks:
    """What the service does for the commands that reach beyond the store."""

    retriage: Callable[[str, str], None]
    kill: Callable[[str, str], str]
    armed_changed: Callable[[bool], None]


class Commands:
    def __init__(self, store: Store, root: Path, state_base: str, hooks: Hooks):
        self.store, self.root, self.state_base, self.hooks = store, root, state_base, hooks

    def consume(self) -> int:
        """Handle every pending command; returns how many."""
        pending = self.store.pending_commands()
        for record in pending:
            result = self.handle(record)
            self.store.finish_command(record.id, result)
            log.info("command %d %s %s: %s", record.id, record.kind, record.run or "", result)
        return len(pending)

    def handle(self, record: CommandRecord) -> str:
        cmd, source = record.command, record.source or "command"
        if cmd is None:
            return f"error: {record.problem}"
        if cmd.kind in (CommandKind.ARM, CommandKind.DISARM):
            state = set_armed(self.root, cmd.kind is CommandKind.ARM, self.state_base, by=source)
            self.hooks.armed_changed(state.armed)
            return f"ok: {state.source}"
        run = self.store.run(cmd.run or "")
        if run is None:
            return f"error: no run named {cmd.run!r} in the store"
        if cmd.kind is CommandKind.ACK:
            return self._ack(cmd, run.name)
        if cmd.kind is CommandKind.PIN:
            self.store.set_run_flags(run.name, pinned="continue")
            return "ok: pinned CONTINUE (never killed until unpinned)"
        if cmd.kind is CommandKind.UNPIN:
            self.store.set_run_flags(run.name, pinned=None)
            return "ok: unpinned"
        if cmd.kind is CommandKind.KILL:
            return self.hooks.kill(run.name, source)
        return self._retriage(cmd, run.name)

    def _ack(self, cmd: Command, run: str) -> str:
        latest = self.store.latest_verdict(run, cmd.checkpoint)
        verdict_id = cmd.verdict if cmd.verdict is not None else (latest.id if latest else None)
        self.store.set_run_flags(run, acknowledged_verdict=verdict_id)
        return f"ok: acknowledged verdict {verdict_id}"

    def _retriage(self, cmd: Command, run: str) -> str:
        wanted = cmd.checkpoint
        targets = [c.path for c in self.store.checkpoints(run) if c.complete and (wanted in (None, c.path))]
        if not targets:
            return f"error: no complete checkpoint {wanted or ''} in run {run}".replace("  ", " ")
        for path in targets:
            self.hooks.retriage(run, path)
        return f"ok: re-triage scheduled for {len(targets)} checkpoint(s)"
