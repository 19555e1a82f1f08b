"""Text for cells: numbers, intervals, verdicts (colour AND symbol, so NO_COLOR still reads), ages. Pure."""

from __future__ import annotations

import math

from rich.text import Text

from rankinv.boundary.text import shown
from rankinv.store import ActionRecord, Candidate
from rankinv.vocabulary import KINDS, interval_text, job_cell, job_text, percent_text, row_label

__all__ = ["KINDS"]  # the short kind names, shared with `rankinv status`; the rest is used by attribute

DASH = "—"

# Symbol first: the verdict must read without colour (NO_COLOR, monochrome tmux, screen readers).
VERDICTS: dict[str, tuple[str, str]] = {
    "KILL": ("✖", "bold red"),
    "WATCH": ("●", "yellow"),
    "CONTINUE": ("✔", "green"),
    "FLAG": ("⚑", "magenta"),
}



def missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None or missing(value) else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return DASH if value is None or missing(value) else percent_text(value)


def interval(value: float | None, lo: float | None, hi: float | None) -> str:
    """The prediction and its interval, as ``rankinv status`` prints it but compact (``0.62 [.55,.71]``)."""
    return interval_text(value, lo, hi, compact=True) or DASH


def basis(text: str | None) -> str:
    """Where a prediction comes from, short enough for its column (``prior+trajectory`` → ``prior+traj``)."""
    return shown(text.replace("trajectory", "traj")) if text else DASH


def verdict_name(candidate: Candidate) -> str | None:
    """The decision to show; a flagged checkpoint with no verdict yet shows FLAG."""
    if candidate.verdict:
        return candidate.verdict.upper()
    return "FLAG" if candidate.flagged else None


def verdict_text(
    decision: str | None, *, acknowledged: bool = False, pinned: bool = False, flagged: bool = False
) -> Text:
    """``✖ KILL``; a flagged checkpoint whose verdict is something else keeps a ``⚑`` beside it."""
    if not decision:
        return Text(DASH, style="dim")
    symbol, style = VERDICTS.get(decision.upper(), ("?", ""))
    text = Text()
    text.append(f"{symbol} {decision.upper()}", style=style)
    if flagged and decision.upper() != "FLAG":
        text.append(" ⚑", style=VERDICTS["FLAG"][1])
    if pinned:
        text.append(" pin", style="cyan")
    if acknowledged:
        text.append(" ack", style="dim")
    return text


def candidate_label(candidate: Candidate) -> str:
    """The run, plus ``@ckpt-N`` for an SFT checkpoint (short: the step must survive a narrow column); escaped,
    like every name the TUI shows (:func:`~rankinv.boundary.text.shown`)."""
    return shown(row_label(candidate.run, candidate.checkpoint))


# What a kill action's state means for the job, in a few letters (the ledger's states, daemon/actions/ledger.py).
def job(candidate: Candidate, kill: ActionRecord | None = None) -> str:
    """The job cell (:func:`~rankinv.vocabulary.job_cell`, as ``rankinv status`` prints it)."""
    c = candidate
    return shown(job_cell(job_text(c.job_id, c.job_state, c.job_elapsed, c.job_node), c.status,
                          (kill.target, kill.state, kill.detail) if kill else None))  # fmt: skip


def ago(then: float | None, now: float) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: short, and frozen by the clock the app is given."""
    if then is None or missing(then):
        return DASH
    seconds = max(0.0, now - then)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
