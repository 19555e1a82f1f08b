"""Text for cells: numbers, intervals, verdicts (colour AND symbol, so NO_COLOR still reads), ages. Pure."""

from __future__ import annotations

import math
from pathlib import PurePath

from rich.text import Text

from rankinv.boundary.text import shown
from rankinv.store import Candidate

DASH = "—"

# Symbol first: the verdict must read without colour (NO_COLOR, monochrome tmux, screen readers).
VERDICTS: dict[str, tuple[str, str]] = {
    "KILL": ("✖", "bold red"),
    "WATCH": ("●", "yellow"),
    "CONTINUE": ("✔", "green"),
    "FLAG": ("⚑", "magenta"),
}

KINDS = {"sft-checkpoint": "ckpt", "grpo": "grpo", "sft": "sft", "unknown": "?"}


def missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None or missing(value) else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return DASH if value is None or missing(value) else f"{value * 100:.0f}%"


def interval(value: float | None, lo: float | None, hi: float | None) -> str:
    """``0.62±0.05``: the half-width of [lo, hi]; the bare value when the interval is unknown."""
    if value is None or missing(value):
        return DASH
    if lo is None or hi is None or missing(lo) or missing(hi):
        return f"{value:.2f}"
    return f"{value:.2f}±{(hi - lo) / 2:.2f}"


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
    if candidate.checkpoint is None:
        return shown(candidate.run)
    name = PurePath(candidate.checkpoint).name
    return shown(f"{candidate.run}@{name.replace('checkpoint-', 'ckpt-', 1)}")


SLURM_SHORT = {
    "RUNNING": "R", "PENDING": "PD", "COMPLETING": "CG", "COMPLETED": "CD", "CANCELLED": "CA",
    "FAILED": "F", "TIMEOUT": "TO", "SUSPENDED": "S", "PREEMPTED": "PR", "OUT_OF_MEMORY": "OOM",
}


def job(candidate: Candidate) -> str:
    """``4102 R`` (Slurm's short state codes, as squeue prints them), or the run's status without a job."""
    if not candidate.job_id:
        return candidate.status or DASH
    state = (candidate.job_state or "?").upper()
    return f"{candidate.job_id} {SLURM_SHORT.get(state, state)}"


def ago(then: float | None, now: float) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: short, and frozen by the clock the app is given."""
    if then is None or missing(then):
        return DASH
    seconds = max(0.0, now - then)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
