"""The ``?`` screen: every key, what it does, and when it is off."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("enter", "detail: curves, triage, reasons, actions"),
    ("/", "filter rows"),
    ("s", "sort: cycle columns (or click a header)"),
    ("k", "kill the run's job (confirm; only when armed)"),
    ("c", "pin / unpin continue (never killed)"),
    ("a", "acknowledge the verdict (stops its alerts)"),
    ("A", "arm / disarm actions (confirm)"),
    ("r", "re-triage the checkpoint"),
    ("?", "this help"),
    ("escape", "back"),
    ("q", "quit (the daemon keeps running)"),
)

LEGEND = "✖ KILL   ⚑ FLAG   ● WATCH   ✔ CONTINUE"


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "close")]

    def __init__(self, readonly: bool = False, alerts: str = "off") -> None:
        super().__init__()
        self.readonly, self.alerts = readonly, alerts

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, padding=(0, 2))
        for key, what in KEYS:
            table.add_row(key, what)
        with Vertical(id="dialog"):
            yield Static("rankinv watch — keys", id="title")
            yield Static(table)
            yield Static(LEGEND, id="legend")
            yield Static(f"desktop alerts: {self.alerts}", id="alerts", markup=False)
            if self.readonly:
                yield Static("read-only session: k c a A r are off", id="readonly-note")

    def action_close(self) -> None:
        self.dismiss(None)
