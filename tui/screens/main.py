"""The ranking: status bar, candidates table, verdict feed, and the keys that act on the selected row."""

from __future__ import annotations

from typing import ClassVar

from rankinv.tui import format as fmt
from rankinv.tui.messages import CommandRequested, DetailRequested
from rankinv.tui.screens.confirm import ConfirmScreen
from rankinv.tui.screens.filter import FilterScreen
from rankinv.tui.widgets.candidates_table import CandidatesTable
from rankinv.tui.widgets.status_bar import StatusBar, is_armed
from rankinv.tui.widgets.verdict_feed import VerdictFeed
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from rankinv.messages import Command, CommandKind
from rankinv.store import Candidate, Snapshot

ACTING = frozenset({"kill", "pin", "ack", "arm", "retriage"})


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "detail", "detail", priority=True),
        Binding("slash", "filter", "filter"),
        Binding("s", "sort", "sort"),
        Binding("k", "kill", "kill"),
        Binding("c", "pin", "pin"),
        Binding("a", "ack", "ack"),
        Binding("A", "arm", "arm"),
        Binding("r", "retriage", "re-triage"),
    ]

    snapshot: reactive[Snapshot | None] = reactive(None, init=False)
    now: reactive[float] = reactive(0.0, init=False)

    def __init__(self, *, readonly: bool) -> None:
        super().__init__()
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status").data_bind(now=MainScreen.now)
        yield CandidatesTable(id="candidates")
        yield VerdictFeed(id="feed").data_bind(now=MainScreen.now)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(StatusBar).readonly = self.readonly

    def watch_snapshot(self, old: Snapshot | None, new: Snapshot | None) -> None:
        if new is None:
            return
        table = self.query_one(CandidatesTable)
        table.candidates = new.candidates
        status = self.query_one(StatusBar)
        status.health, status.store_note = new.health, ""
        status.counts = (len(table.shown), len(new.candidates))
        self.query_one(VerdictFeed).events = new.events
        if old is None or is_armed(old.health) != is_armed(new.health):
            self.refresh_bindings()

    @property
    def armed(self) -> bool:
        return self.snapshot is not None and is_armed(self.snapshot.health)

    @property
    def selected(self) -> Candidate | None:
        selected: Candidate | None = self.query_one(CandidatesTable).selected
        return selected

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Acting keys are shown greyed out (None) in a read-only session; kill also until armed."""
        if action in ACTING and self.readonly:
            return None
        if action == "kill" and not self.armed:
            return None
        return True

    # -- keys ------------------------------------------------------------------------------------------------
    def action_detail(self) -> None:
        candidate = self.selected
        if candidate is not None:
            self.post_message(DetailRequested(candidate))

    @on(DataTable.RowSelected)
    def _row_clicked(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_filter(self) -> None:
        table = self.query_one(CandidatesTable)
        self.app.push_screen(FilterScreen(table.filter_text), self._apply_filter)

    def _apply_filter(self, text: str | None) -> None:
        if text is None:
            return
        table = self.query_one(CandidatesTable)
        table.filter_text = text
        status = self.query_one(StatusBar)
        status.filter_text = text
        status.counts = (len(table.shown), len(table.candidates))

    def action_sort(self) -> None:
        self.query_one(CandidatesTable).cycle_sort()

    def action_kill(self) -> None:
        c = self.selected
        if c is None:
            return
        question = f"Kill {fmt.candidate_label(c)}?"
        detail = f"job {fmt.job(c)} — signal, grace period, then scancel. Verdict: {c.verdict or fmt.DASH}"
        self.app.push_screen(ConfirmScreen(question, detail, yes="Kill"), lambda yes: self._kill(c, yes))

    def _kill(self, c: Candidate, yes: bool | None) -> None:
        if yes:
            self.post_message(CommandRequested(Command(CommandKind.KILL, c.run)))

    def action_pin(self) -> None:
        c = self.selected
        if c is not None:
            kind = CommandKind.UNPIN if c.pinned else CommandKind.PIN
            self.post_message(CommandRequested(Command(kind, c.run)))

    def action_ack(self) -> None:
        c = self.selected
        if c is None or c.verdict_id is None:
            self.notify("no verdict to acknowledge on this row", severity="warning")
            return
        self.post_message(CommandRequested(Command(CommandKind.ACK, c.run, c.checkpoint, c.verdict_id)))

    def action_arm(self) -> None:
        kind = CommandKind.DISARM if self.armed else CommandKind.ARM
        question = "Disarm: back to dry-run?" if self.armed else "Arm: let the daemon really stop jobs?"
        detail = "" if self.armed else "KILL verdicts will signal and scancel Slurm jobs you own."
        self.app.push_screen(ConfirmScreen(question, detail, yes=kind.value.title()), lambda yes: self._arm(kind, yes))

    def _arm(self, kind: CommandKind, yes: bool | None) -> None:
        if yes:
            self.post_message(CommandRequested(Command(kind)))

    def action_retriage(self) -> None:
        c = self.selected
        if c is None:
            return
        if c.checkpoint is None:
            self.notify("re-triage works on an SFT checkpoint row (its parent's row, for a GRPO run)")
            return
        self.post_message(CommandRequested(Command(CommandKind.RETRIAGE, c.run, c.checkpoint)))
