"""The recent event feed, newest first: scrollable (wheel, arrows when focused) and resizable (``+``/``-``)."""

from __future__ import annotations

from rankinv.tui import feed
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.store import EventRecord

MIN_HEIGHT, MAX_HEIGHT = 3, 40


class VerdictFeed(VerticalScroll, can_focus=True):
    events: reactive[tuple[EventRecord, ...]] = reactive(())
    now: reactive[float] = reactive(0.0)
    lines: reactive[int] = reactive(0, init=False)  # the pane's height in rows once resized; 0: the CSS height

    def compose(self) -> ComposeResult:
        yield Static(Text("no events yet", style="dim"), id="feed-lines")

    def on_mount(self) -> None:
        self.border_title = "events (newest first)"

    def watch_lines(self, lines: int) -> None:
        self.styles.height = lines
        self.styles.min_height = lines

    def resize(self, delta: int) -> None:
        """``+``/``-``: grow or shrink from the height it has now (the table and charts give or take the rows)."""
        self.lines = max(MIN_HEIGHT, min(MAX_HEIGHT, (self.lines or self.outer_size.height) + delta))

    def _refresh_text(self) -> None:
        if not self.is_mounted:
            return
        body = self.query_one("#feed-lines", Static)
        if not self.events:
            body.update(Text("no events yet", style="dim"))
            return
        body.update(feed.render(feed.collapse(self.events), self.now))

    def watch_events(self) -> None:
        self._refresh_text()

    def watch_now(self) -> None:
        self._refresh_text()
