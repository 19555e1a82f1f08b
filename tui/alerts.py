"""Desktop alerts from the TUI: the daemon's terminal emitter (``rankinv.daemon.notify.terminal``), written
through Textual's own driver.

The escape sequence (OSC 9/777/99, tmux-wrapped, or a bell) travels back over SSH to the user's terminal.
Resolving the protocol may run ``tmux show-options``, so :func:`resolve_channel` is called from a worker thread;
encoding is pure; the app writes the result on the UI thread (``RankinvApp._verdict_issued``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from rankinv.tui import format as fmt

from rankinv.store import Candidate

BEL = b"\x07"


@dataclass(frozen=True)
class AlertChannel:
    protocol: str  # osc9 | osc777 | osc99 | bell
    tmux: bool = False
    passthrough: bool = True

    def describe(self) -> str:
        """For the help screen: which sequence alerts use here, and how to get a better one."""
        if self.protocol == "bell":
            return "bell (no notification protocol detected; set [notify] terminal_protocol)"
        if self.tmux and not self.passthrough:
            return f"bell: tmux blocks {self.protocol} (set -g allow-passthrough on)"
        return f"{self.protocol} through tmux passthrough" if self.tmux else self.protocol

    def encode(self, title: str, body: str) -> bytes:
        from rankinv.daemon.notify import terminal

        data: bytes = terminal.notification_bytes(
            title, body, self.protocol, tmux=self.tmux, passthrough=self.passthrough
        )
        return data


def resolve_channel(setting: str = "auto", env: Mapping[str, str] | None = None) -> AlertChannel:
    """Which sequence this terminal understands (blocking: may ask tmux whether passthrough is on)."""
    from rankinv.daemon.notify import terminal

    env = os.environ if env is None else env
    protocol = terminal.resolve_protocol(setting, env)
    tmux = terminal.in_tmux(env)
    passthrough = terminal.tmux_passthrough(env) if tmux and protocol != "bell" else True
    return AlertChannel(protocol, tmux, passthrough)


def alert_text(candidate: Candidate, decision: str) -> tuple[str, str]:
    """Title and body of the alert for a new KILL verdict or a newly flagged checkpoint."""
    symbol = fmt.VERDICTS.get(decision, ("!", ""))[0]
    title = f"rankinv {symbol} {decision} {fmt.candidate_label(candidate)}"
    default = "stage-1 triage flagged this checkpoint" if decision == "FLAG" else "new verdict"
    return title, candidate.verdict_summary or default


def _alerts_of(c: Candidate) -> dict[str, str]:
    """What about a candidate is alert-worthy, by a key that changes when it is new: {key: decision}."""
    found = {}
    decision = (c.verdict or "").upper()
    if c.verdict_id is not None and decision in ("KILL", "FLAG"):
        found[f"verdict:{c.verdict_id}"] = decision
    if c.flagged and c.checkpoint is not None:  # a GRPO run inherits its parent's flag: alert once, on the parent
        found[f"flag:{c.subject}"] = "FLAG"
    return found


def new_alerts(
    seen: set[str] | None, candidates: tuple[Candidate, ...]
) -> tuple[set[str], list[tuple[Candidate, str]]]:
    """Alert keys seen so far, and (candidate, decision) for each KILL verdict or flag that is new since ``seen``.

    ``seen is None`` (the first snapshot) only records a baseline: what was already there when the TUI started
    does not alert again. Acknowledged verdicts never alert.
    """
    current = {key: (c, decision) for c in candidates for key, decision in _alerts_of(c).items()}
    if seen is None:
        return set(current), []
    fresh: dict[str, tuple[Candidate, str]] = {}
    for key, (c, decision) in current.items():
        if key not in seen and not c.acknowledged:
            fresh.setdefault(c.subject, (c, decision))  # one alert per candidate per snapshot
    return seen | set(current), list(fresh.values())
