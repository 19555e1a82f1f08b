"""The ``?`` screen: every key and when it is off, then a glossary of every column and term (shared with
``rankinv status``: :mod:`rankinv.vocabulary`)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rankinv.vocabulary import COLUMNS, TERMS

KEYS: tuple[tuple[str, str], ...] = (
    ("j k ↑ ↓", "move; g / G (home / end) first / last; ctrl-d / ctrl-u half a page"),
    ("enter", "detail: curves, triage, reasons, actions (or click a row)"),
    ("space", "mark / unmark the row: marked runs are overlaid in the charts"),
    ("/", "filter rows as you type (run, kind, verdict, job state); esc clears"),
    ("s S", "sort by the next / previous column (or click its header); i reverses"),
    ("K", "kill the run's job (asks first; only when armed)"),
    ("c", "pin / unpin continue (never killed)"),
    ("a", "acknowledge the verdict (stops its alerts)"),
    ("A", "arm / disarm actions (asks first)"),
    ("r", "re-triage the checkpoint"),
    ("l", "the run's log in $PAGER (default less, at the end)"),
    ("y", "copy the run's folder (OSC 52: works over SSH and in tmux with set-clipboard on)"),
    ("+ -", "grow / shrink the event feed (tab focuses it; arrows or the wheel scroll it)"),
    ("?", "this help"),
    ("escape", "back"),
    ("q", "quit (the daemon keeps running)"),
)

LEGEND = "✖ KILL   ⚑ FLAG   ● WATCH   ✔ CONTINUE   ◆ marked"


def _table(rows: tuple[tuple[str, str], ...]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0), expand=True)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(ratio=1)
    for key, what in rows:
        table.add_row(Text(key), Text(what))  # Text, never markup: "[lo, hi]" must print as written
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "close")]

    def __init__(self, readonly: bool = False, alerts: str = "off") -> None:
        super().__init__()
        self.readonly, self.alerts = readonly, alerts

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static("rankinv watch — keys", classes="title")
            yield Static(_table(KEYS))
            yield Static(LEGEND, id="legend")
            yield Static(f"desktop alerts: {self.alerts}", id="alerts", markup=False)
            if self.readonly:
                yield Static("read-only session: K c a A r are off", id="readonly-note")
            yield Static("Columns (the same names in rankinv status and its --json keys)", classes="title")
            yield Static(_table(tuple((f"{t.label}", f"{t.meaning}  [{t.key}]") for t in COLUMNS)), id="glossary")
            yield Static("Terms", classes="title")
            yield Static(_table(tuple((t.label, t.meaning) for t in TERMS)), id="terms")

    def on_mount(self) -> None:
        self.query_one("#dialog").focus()  # arrows and page keys scroll the glossary

    def action_close(self) -> None:
        self.dismiss(None)
