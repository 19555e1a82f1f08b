"""Why the verdict is what it is: each reason's metric, value, threshold and window."""

from __future__ import annotations

from rankinv.tui import format as fmt
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.boundary.text import shown
from rankinv.messages import Reason
from rankinv.store import VerdictRecord


def reason_line(reason: Reason) -> str:
    """``[kill] entropy drop 0.64 > 0.50 (steps 10→150)``: the grade leads, then the daemon's own rendering."""
    return f"[{reason.grade}] {reason.render()}"


class ReasonsList(Static):
    verdicts: reactive[tuple[VerdictRecord, ...]] = reactive(())

    def render(self) -> Text:
        out = Text("Verdict and reasons\n", style="bold")
        if not self.verdicts:
            return out.append("no verdict yet", style="dim")
        latest = self.verdicts[0]
        out.append_text(fmt.verdict_text(latest.decision))
        out.append(f"  step {latest.step if latest.step is not None else fmt.DASH}  {shown(latest.summary)}\n")
        for reason in latest.reasons:
            out.append("  • " + shown(reason_line(reason)) + "\n")
        for older in self.verdicts[1:5]:
            out.append(shown(f"  earlier: {older.decision} at step {older.step}: {older.summary}") + "\n", style="dim")
        out.rstrip()
        return out
