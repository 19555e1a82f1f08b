"""Commands the TUI and the CLI write to the store (ack, pin, unpin, arm, disarm, kill, retriage).

Each is consumed once: its result (``ok: …`` or ``error: …``) is written back with ``finish_command``, so
the writer sees what happened. An unknown command or run is an error result, never an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rankinv.daemon.actions.arming import set_armed

from rankinv.store import CommandRecord, Store

log = logging.getLogger("rankinv.daemon")
KINDS = ("ack", "pin", "unpin", "arm", "disarm", "kill", "retriage")


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
        for cmd in pending:
            result = self.handle(cmd)
            self.store.finish_command(cmd.id, result)
            log.info("command %d %s %s: %s", cmd.id, cmd.kind, cmd.run or "", result)
        return len(pending)

    def handle(self, cmd: CommandRecord) -> str:
        if cmd.kind not in KINDS:
            return f"error: unknown command {cmd.kind!r}; known: {', '.join(KINDS)}"
        if cmd.kind in ("arm", "disarm"):
            state = set_armed(self.root, cmd.kind == "arm", self.state_base, by=cmd.source or "command")
            self.hooks.armed_changed(state.armed)
            return f"ok: {state.source}"
        run = self.store.run(cmd.run or "")
        if run is None:
            return f"error: no run named {cmd.run!r} in the store"
        result: str = getattr(self, f"_{cmd.kind}")(cmd, run.name)
        return result

    def _ack(self, cmd: CommandRecord, run: str) -> str:
        latest = self.store.latest_verdict(run, (cmd.args or {}).get("checkpoint"))
        verdict_id = (cmd.args or {}).get("verdict") or (latest.id if latest else None)
        self.store.set_run_flags(run, acknowledged_verdict=verdict_id)
        return f"ok: acknowledged verdict {verdict_id}"

    def _pin(self, cmd: CommandRecord, run: str) -> str:
        self.store.set_run_flags(run, pinned="continue")
        return "ok: pinned CONTINUE (never killed until unpinned)"

    def _unpin(self, cmd: CommandRecord, run: str) -> str:
        self.store.set_run_flags(run, pinned=None)
        return "ok: unpinned"

    def _kill(self, cmd: CommandRecord, run: str) -> str:
        return self.hooks.kill(run, cmd.source or "command")

    def _retriage(self, cmd: CommandRecord, run: str) -> str:
        wanted = (cmd.args or {}).get("checkpoint")
        targets = [c.path for c in self.store.checkpoints(run) if c.complete and (wanted in (None, c.path))]
        if not targets:
            return f"error: no complete checkpoint {wanted or ''} in run {run}".replace("  ", " ")
        for path in targets:
            self.hooks.retriage(run, path)
        return f"ok: re-triage scheduled for {len(targets)} checkpoint(s)"
