"""Why the verdict is what it is: each reason's metric, value, threshold and window."""

from __future__ import annotations

from typing import Any

from rankinv.tui import format as fmt
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.store import VerdictRecord


def reason_line(reason: dict[str, Any]) -> str:
    """``entropy_drop 0.64 vs 0.50 (steps 10–150)``, from whichever of the fields are present."""
    parts = [str(reason.get("metric", "?"))]
    value, threshold = reason.get("value"), reason.get("threshold")
    if isinstance(value, int | float):
        parts.append(f"{value:.3g}")
    if isinstance(threshold, int | float):
        parts.append(f"{reason.get('comparison', 'vs')} {threshold:.3g}")
    window = reason.get("window")
    if isinstance(window, list | tuple) and len(window) == 2:
        parts.append(f"(steps {window[0]}–{window[1]})")
    elif window:
        parts.append(f"({window})")
    if reason.get("message"):
        parts.append(f"— {reason['message']}")
    return " ".join(parts)


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
