"""One metric curve of a run on a fixed, labelled scale, with the stage-2 window [s0, decision step] and its
threshold drawn and named."""

from __future__ import annotations

from rankinv.tui import plot
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.boundary.text import shown
from rankinv.store import Series


class CurvePlot(Static):
    """Set ``window``, ``y_range``, ``threshold`` (+ its label), then ``series``; the plot fills the widget."""

    series: reactive[Series | None] = reactive(None)
    window: reactive[tuple[int, int] | None] = reactive(None)
    threshold: reactive[float | None] = reactive(None)
    threshold_label: reactive[str] = reactive("")
    y_range: reactive[tuple[float, float] | None] = reactive(None)

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.label = title

    def render(self) -> Text:
        out = Text(shown(self.label), style="bold")
        s = self.series
        if s is None or not s.values:
            return out.append("  no data yet", style="dim")
        out.append(f"  last {s.values[-1]:.3g} at step {s.steps[-1]}")
        if self.window:
            out.append(f"  │ stage-2 window {self.window[0]}…{self.window[1]}", style="dim")
        if self.threshold_label:
            out.append(f"  ┄ {self.threshold_label}", style="red")
        width = max(10, (self.size.width or 60) - 9)
        title_rows = -(-out.cell_len // max(1, self.size.width or 60))  # the title may wrap on a narrow terminal
        height = max(3, (self.size.height or 8) - title_rows - 1)
        return out.append("\n").append_text(plot.curve(
            s.steps, s.values, width, height, window=self.window, hline=self.threshold, y_range=self.y_range
        ))
