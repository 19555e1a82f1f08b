"""Desktop alerts from the TUI: the actions issue's terminal emitter, written through Textual's own driver.

The escape sequence (OSC 9/777/99, tmux-wrapped, or a bell) travels back over SSH to the user's terminal.
Resolving the protocol may run ``tmux show-options``, so :func:`resolve_channel` is called from a worker thread;
encoding is pure; the app writes the result on the UI thread (see ``RankinvApp.on_verdict_issued``).
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


def alert_text(candidate: Candidate) -> tuple[str, str]:
    """Title and body of the alert for a new verdict."""
    decision = fmt.verdict_name(candidate) or "?"
    symbol = fmt.VERDICTS.get(decision, ("!", ""))[0]
    title = f"rankinv {symbol} {decision} {fmt.candidate_label(candidate)}"
    return title, candidate.verdict_summary or "new verdict"


def new_alerts(seen: set[int] | None, candidates: tuple[Candidate, ...]) -> tuple[set[int], list[Candidate]]:
    """Verdict ids seen so far and the candidates whose KILL/FLAG verdict is new since ``seen``.

    ``seen is None`` (the first snapshot) only records a baseline: verdicts already there when the TUI starts
    do not alert again. Acknowledged verdicts never alert.
    """
    ids = {c.verdict_id for c in candidates if c.verdict_id is not None}
    if seen is None:
        return ids, []
    fresh = [
        c
        for c in candidates
        if c.verdict_id is not None
        and c.verdict_id not in seen
        and (c.verdict or "").upper() in ("KILL", "FLAG")
        and not c.acknowledged
    ]
    return seen | ids, fresh
