"""The recent event feed: verdicts, actions and daemon news, newest first."""

from __future__ import annotations

from rankinv.tui import format as fmt
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.boundary.text import shown
from rankinv.store import EventRecord

LEVELS = {"error": "bold red", "critical": "bold red", "warning": "yellow", "info": ""}


def _symbol(event: EventRecord) -> Text:
    for decision, (symbol, style) in fmt.VERDICTS.items():
        if decision in event.message.upper() or event.kind.upper() == decision:
            return Text(symbol + " ", style=style)
    return Text("· ", style="dim")


class VerdictFeed(Static):
    events: reactive[tuple[EventRecord, ...]] = reactive(())
    now: reactive[float] = reactive(0.0)

    def render(self) -> Text:
        if not self.events:
            return Text("no events yet", style="dim")
        out = Text(no_wrap=True, overflow="ellipsis")
        for event in self.events[: max(1, self.size.height or 5)]:
            out.append(f"{fmt.ago(event.time, self.now):>4} ", style="dim")
            out.append_text(_symbol(event))
            if event.run:
                out.append(f"{shown(event.run)}: ", style="bold")
            out.append(shown(event.message) + "\n", style=LEVELS.get(event.level, ""))
        out.rstrip()
        return out
