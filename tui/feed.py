"""The event feed as lines a person can read: one line per event, the run named once, repeats collapsed.

Pure (no Textual). Daemon messages often repeat the run and the step (``rankinv: RUN dry-run: run RUN step 27:
Run RUN Step 27: KILL …``); the run is shown once in its own column, so it is taken out of the message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rankinv.tui import format as fmt
from rich.text import Text

from rankinv.boundary.text import shown
from rankinv.store import EventRecord

LEVELS = {"error": "bold red", "critical": "bold red", "warning": "yellow", "info": ""}
_DECISION = re.compile(r"\b(KILL|WATCH|CONTINUE|FLAG)\b")
_CONFIDENCE = re.compile(r"\b(KILL|WATCH|CONTINUE|FLAG) \((\d+%)\)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class FeedLine:
    event: EventRecord  # the newest of the group
    text: str
    count: int


def decision(event: EventRecord) -> str | None:
    """The verdict an event announces: its kind when that is a decision, else the FIRST decision word of the
    message (``CONTINUE (was KILL)`` is a CONTINUE)."""
    if event.kind.upper() in fmt.VERDICTS:
        return event.kind.upper()
    found = _DECISION.search(event.message.upper())
    return found.group(1) if found else None


def without_run(message: str, run: str | None) -> str:
    """``message`` with the run's name (and the ``rankinv:`` prefix, and a step said twice) taken out."""
    text = re.sub(r"^\s*rankinv:\s*", "", message)
    if run:
        name = re.escape(run)
        text = re.sub(rf"\b[Rr]un {name}(?![\w.-])[:,]?\s*", "", text)
        text = re.sub(rf"(?<![\w./-]){name}(?![\w./-])[:,]?\s*", "", text)
    text = re.sub(r"\b[Ss]tep (\d+)[:,]?\s+(?=[Ss]tep \1\b)", "", text)
    text = _CONFIDENCE.sub(r"\1 (conf \2)", text)
    return re.sub(r"\s{2,}", " ", text).strip(" :,") or message


def collapse(events: Sequence[EventRecord]) -> list[FeedLine]:
    """Consecutive events of one run and kind whose text differs only in its numbers become one line."""
    out: list[FeedLine] = []
    last_key: tuple[object, ...] | None = None
    for event in events:  # newest first
        text = shown(without_run(event.message, event.run))
        key = (event.run, event.kind, event.level, _NUMBER.sub("#", text))
        if out and key == last_key:
            out[-1] = FeedLine(out[-1].event, out[-1].text, out[-1].count + 1)
        else:
            out.append(FeedLine(event, text, 1))
        last_key = key
    return out


def render(lines: Sequence[FeedLine], now: float, max_run: int = 18) -> Text:
    """``  5m ✖ grpo-bad           KILL entropy drop 64% > 50% ×3``: age, symbol, run, message, repeats."""
    out = Text(no_wrap=True, overflow="ellipsis")
    run_width = min(max_run, max((len(shown(line.event.run or "daemon")) for line in lines), default=6))
    for i, line in enumerate(lines):
        e = line.event
        verdict = decision(e)
        symbol, style = fmt.VERDICTS.get(verdict or "", ("·", "dim"))
        run = shown(e.run or "daemon")
        out.append(f"{fmt.ago(e.time, now):>4} ", style="dim")
        out.append(symbol + " ", style=style)
        out.append(f"{run[:run_width]:<{run_width}} ", style="bold" if e.run else "dim")
        out.append(line.text, style=LEVELS.get(e.level, ""))
        if line.count > 1:
            out.append(f" ×{line.count}", style="bold cyan")
        if i < len(lines) - 1:
            out.append("\n")
    return out
