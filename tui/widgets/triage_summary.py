"""Stage-1 triage of the candidate's checkpoint: headline numbers, per-prompt pass-rate histogram, pass@k curve.

Reads the report dict defensively: a missing field shows as a dash, never an error (reports are versioned and
may come from the training callback or an older rankinv).
"""

from __future__ import annotations

import math
from typing import Any

from rankinv.tui import format as fmt
from rankinv.tui import plot
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

HEADLINES = (
    ("pass@1", "pass_at_1"),
    ("entropy", "entropy_token_mean"),
    ("probe H", "entropy_probe"),
    ("p/p*", "headroom"),
    ("E[σ²]", "expected_advantage_variance"),
    ("degenerate", "degenerate_fraction"),
    ("never solved", "never_solved_fraction"),
)


def estimate(value: Any) -> float | None:
    """A number from a plain float or an interval object ``{"estimate", "lo", "hi"}``."""
    if isinstance(value, dict):
        value = value.get("estimate")
    return float(value) if isinstance(value, int | float) else None


def pass_rates(report: dict[str, Any]) -> list[float]:
    rates = []
    for prompt in report.get("prompts") or ():
        if isinstance(prompt, dict):
            rate = estimate(prompt.get("pass_rate"))
            if rate is None and prompt.get("samples"):
                rate = estimate(prompt.get("passes", 0)) or 0.0
                rate /= float(prompt["samples"])
            if rate is not None:
                rates.append(rate)
    return rates


def pass_at_k(report: dict[str, Any]) -> list[tuple[int, float]]:
    curve = (report.get("metrics") or {}).get("pass_at_k") or {}
    points = [(int(k), estimate(v)) for k, v in curve.items() if str(k).isdigit()] if isinstance(curve, dict) else []
    return sorted((k, v) for k, v in points if v is not None)


class TriageSummary(Static):
    report: reactive[dict[str, Any] | None] = reactive(None)

    def render(self) -> Text:
        report = self.report
        out = Text("Triage (stage 1)\n", style="bold")
        if not report:
            return out.append("no triage report yet", style="dim")
        metrics = report.get("metrics") or {}
        flag = report.get("flag") or {}
        out.append("⚑ flagged  " if flag.get("flagged") else "not flagged  ", style="magenta" if flag else "")
        out.append(f"g={report.get('group_size', fmt.DASH)}  p*={fmt.num(estimate(report.get('p_star')), 3)}\n")
        cells = [f"{label} {fmt.num(estimate(metrics.get(key)), 2)}" for label, key in HEADLINES]
        out.append("  ".join(cells[:4]) + "\n" + "  ".join(cells[4:]) + "\n")
        out.append("per-prompt pass rate p\n", style="bold")
        out.append_text(plot.histogram(pass_rates(report), bins=10, width=30))
        return out.append_text(self._pass_at_k(pass_at_k(report)))

    def _pass_at_k(self, curve: list[tuple[int, float]]) -> Text:
        """pass@k against k on a log scale: how much a larger budget of tries would find."""
        out = Text("\npass@k  ", style="bold")
        out.append("  ".join(f"k={k}:{v:.2f}" for k, v in curve) or fmt.DASH)
        if len(curve) < 2:
            return out
        steps = [round(math.log2(k) * 10) for k, _ in curve]
        width = max(12, min(48, (self.size.width or 60) - 12))
        labels = (f"k={curve[0][0]}", f"k={curve[-1][0]}")
        return out.append("\n").append_text(plot.curve(steps, [v for _, v in curve], width, 5, x_labels=labels))
