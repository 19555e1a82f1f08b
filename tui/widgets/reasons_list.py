"""Why the verdict is what it is: each reason's metric, value, threshold and window."""

from __future__ import annotations

from typing import Any

from rankinv.tui import format as fmt
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.store import VerdictRecord


def reason_line(reason: dict[str, Any]) -> str:
    """The daemon's own rendering (``text``) when present, else built from whichever fields exist:
    ``entropy_drop 0.64 > 0.5 (steps 10–150)``; the reason's grade (kill, watch, protect …) leads."""
    grade = f"[{reason['grade']}] " if reason.get("grade") else ""
    if reason.get("text"):
        return grade + str(reason["text"])
    parts = [str(reason.get("metric", "?"))]
    value, threshold = reason.get("value"), reason.get("threshold")
    if isinstance(value, int | float):
        parts.append(f"{value:.3g}")
    if isinstance(threshold, int | float):
        parts.append(f"{reason.get('op') or reason.get('comparison') or 'vs'} {threshold:.3g}")
    window = reason.get("window") or (reason.get("start_step"), reason.get("end_step"))
    if isinstance(window, list | tuple) and len(window) == 2 and None not in window:
        parts.append(f"(steps {window[0]}–{window[1]})")
    note = reason.get("note") or reason.get("message")
    if note:
        parts.append(f"— {note}")
    return grade + " ".join(parts)


class ReasonsList(Static):
    verdicts: reactive[tuple[VerdictRecord, ...]] = reactive(())

    def render(self) -> Text:
        out = Text("Verdict and reasons\n", style="bold")
        if not self.verdicts:
            return out.append("no verdict yet", style="dim")
        latest = self.verdicts[0]
        out.append_text(fmt.verdict_text(latest.decision))
        out.append(f"  step {latest.step if latest.step is not None else fmt.DASH}  {latest.summary}\n")
        for reason in latest.reasons:
            out.append("  • " + (reason_line(reason) if isinstance(reason, dict) else str(reason)) + "\n")
        for older in self.verdicts[1:5]:
            out.append(f"  earlier: {older.decision} at step {older.step}: {older.summary}\n", style="dim")
        out.rstrip()
        return out
