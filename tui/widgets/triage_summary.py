"""Stage-1 triage of the candidate's checkpoint: headline numbers, per-prompt pass-rate histogram, pass@k curve.

Shows the daemon's :class:`rankinv.messages.TriageSummary`; a number the report did not measure shows as a
dash, and a summary the store could not decode shows the decoder's reason.
"""

from __future__ import annotations

import math

from rankinv.tui import format as fmt
from rankinv.tui import plot
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv import messages


def headlines(s: messages.TriageSummary) -> list[tuple[str, float | None]]:
    return [
        ("pass@1", s.pass1), ("entropy", s.entropy_token_mean), ("probe H", s.entropy_probe),
        ("p/p*", s.headroom), ("E[σ²]", s.expected_variance), ("degenerate", s.degenerate_fraction),
        ("never solved", s.never_solved_fraction),
    ]  # fmt: skip


class TriageSummary(Static):
    report: reactive[messages.TriageSummary | None] = reactive(None)
    problem: reactive[str | None] = reactive(None)

    def render(self) -> Text:
        s = self.report
        out = Text("Triage (stage 1)\n", style="bold")
        if s is None:
            return out.append(self.problem or "no triage report yet", style="red" if self.problem else "dim")
        out.append("⚑ flagged  " if s.flagged else "not flagged  ", style="magenta" if s.flagged else "")
        out.append(f"g={s.group_size}  p*={fmt.num(s.p_star, 3)}\n")
        cells = [f"{label} {fmt.num(value, 2)}" for label, value in headlines(s)]
        out.append("  ".join(cells[:4]) + "\n" + "  ".join(cells[4:]) + "\n")
        out.append("per-prompt pass rate p\n", style="bold")
        out.append_text(plot.histogram(list(s.pass_rates), bins=10, width=30))
        return out.append_text(self._pass_at_k(list(s.pass_at_k)))

    def _pass_at_k(self, curve: list[tuple[int, float]]) -> Text:
        """pass@k against k on a log scale: how much a larger budget of tries would find."""
        out = Text("\npass@k  ", style="bold")
        out.append("  ".join(f"k={k}:{v:.2f}" for k, v in curve) or fmt.DASH)
        if len(curve) < 2:
            return out
        steps = [round(math.log2(k) * 10) for k, _ in curve]
        width = max(12, min(48, (self.size.width or 60) - 12))
        labels = (f"k={curve[0][0]}", f"k={curve[-1][0]}")
        return out.append("\n").append_text(
            plot.curve(steps, [v for _, v in curve], width, 5, x_labels=labels, y_range=(0.0, 1.0))
        )
