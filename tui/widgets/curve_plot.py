"""One metric curve of a run, with the stage-2 window [s0, decision step] and its threshold drawn."""

from __future__ import annotations

from rankinv.tui import plot
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.boundary.text import shown
from rankinv.store import Series


class CurvePlot(Static):
    """Set ``series`` (and optionally ``window`` and ``threshold``); the plot fills the widget's size."""

    series: reactive[Series | None] = reactive(None)
    window: reactive[tuple[int, int] | None] = reactive(None)
    threshold: reactive[float | None] = reactive(None)

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.label = title

    def render(self) -> Text:
        out = Text(shown(self.label), style="bold")
        s = self.series
        if s is None or not s.values:
            return out.append("  no data yet", style="dim")
        out.append(f"  last {s.values[-1]:.3g} at step {s.steps[-1]}  ", style="")
        out.append(plot.sparkline(s.values, 20) + "\n", style="cyan")
        width = max(10, (self.size.width or 60) - 9)
        height = max(3, (self.size.height or 8) - 2)
        return out.append_text(plot.curve(s.steps, s.values, width, height, window=self.window, hline=self.threshold))
