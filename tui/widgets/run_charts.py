"""The charts pane: entropy, reward and zero-std of the selected run (or of the marked runs, overlaid), each on a
fixed, labelled scale with the stage-2 window and its kill line drawn and named."""

from __future__ import annotations

from dataclasses import dataclass

from rankinv.tui import format as fmt
from rankinv.tui import plot
from rankinv.tui.thresholds import Thresholds, baseline, kill_line
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from rankinv import metrics
from rankinv.boundary.text import shown
from rankinv.store import Series

STYLES = ("bold cyan", "bold magenta", "bold yellow", "bold green", "bold blue", "bold red")


@dataclass(frozen=True)
class Plotted:
    """One run in the pane: its label and its curves (name → series)."""

    label: str
    curves: dict[str, Series]


def _lines(runs: tuple[Plotted, ...], name: str, scale: dict[str, float] | None = None) -> list[plot.Line]:
    out = []
    for i, run in enumerate(runs):
        s = run.curves.get(name)
        if s is not None:
            k = (scale or {}).get(run.label, 1.0)
            out.append(plot.Line(s.steps, [v / k for v in s.values], STYLES[i % len(STYLES)], run.label))
    return out


class Chart(Static):
    """One metric; the app sets ``runs`` and ``thresholds`` on the pane, which hands them down."""

    runs: reactive[tuple[Plotted, ...]] = reactive(())

    def __init__(self, metric: str, thresholds: Thresholds, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.metric, self.thresholds = metric, thresholds

    def render(self) -> Text:
        t, runs = self.thresholds, self.runs
        width = max(8, (self.size.width or 40) - 9)
        height = max(2, (self.size.height or 10) - 2)
        title, lines, y_range, hline = self._spec(t, runs)
        out = Text.assemble((title, "bold"), "\n")
        if not lines:
            return out.append("no data yet" if runs else "select a GRPO run", style="dim")
        return out.append_text(plot.chart(lines, width, height, y_range=y_range, window=t.window, hline=hline))

    def _spec(
        self, t: Thresholds, runs: tuple[Plotted, ...]
    ) -> tuple[str, list[plot.Line], tuple[float, float], float | None]:
        window = f"│ {t.baseline_step}…{t.decision_step}"
        if self.metric == metrics.ENTROPY and len(runs) > 1:  # overlaid: relative to each run's own baseline
            bases = {r.label: baseline(r.curves.get(metrics.ENTROPY), t) or 1.0 for r in runs}
            floor = 1 - t.tau_2
            return (f"entropy/H(s0) ┄ kill <{floor:.2f}  {window}",
                    _lines(runs, self.metric, bases), (0.0, 1.2), floor)
        if self.metric == metrics.ENTROPY:
            s = runs[0].curves.get(metrics.ENTROPY) if runs else None
            line = kill_line(s, t)
            top = max([*(s.values if s else ()), line or 0.0, 0.1]) * 1.1
            kill = f"┄ kill <{fmt.num(line, 2)}" if line is not None else "(no s0 value yet)"
            return f"entropy nats {kill}  {window}", _lines(runs, self.metric), (0.0, top), line
        if self.metric == metrics.FRAC_REWARD_ZERO_STD:
            return (f"zero-std 0–1 ┄ dead >{t.max_zero_std:.2f}  {window}",
                    _lines(runs, self.metric), (0.0, 1.0), t.max_zero_std)
        return f"reward 0–1  {window}", _lines(runs, self.metric), (0.0, 1.0), None


class RunCharts(Horizontal):
    """Set ``runs``; with more than one (marked rows) the curves overlay, one colour per run, legend on top."""

    runs: reactive[tuple[Plotted, ...]] = reactive(())

    def __init__(self, thresholds: Thresholds, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.thresholds = thresholds

    def compose(self) -> ComposeResult:
        for metric, key in ((metrics.ENTROPY, "entropy"), (metrics.REWARD_MEAN, "reward"),
                            (metrics.FRAC_REWARD_ZERO_STD, "zero-std")):  # fmt: skip
            yield Chart(metric, self.thresholds, id=f"chart-{key}", classes="chart")

    def watch_runs(self, runs: tuple[Plotted, ...]) -> None:
        for chart in self.query(Chart):
            chart.runs = runs
        # Content, never markup: a run name is untrusted text, and "[31m" in it is not an escapable tag
        parts: list[tuple[str, str] | str] = []
        for i, r in enumerate(runs):
            parts += [" "] if i else []
            parts.append((f"━ {shown(r.label)}", STYLES[i % len(STYLES)]))
        self.border_title = Content.assemble(*parts) if parts else "charts"
        self.border_subtitle = "space marks rows to overlay" if len(runs) < 2 else f"{len(runs)} runs overlaid"
