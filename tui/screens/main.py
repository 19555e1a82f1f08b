"""The ranking: context header, status, the candidates table with sparklines, the selected run's charts, the
event feed, and the keys that act on the selected row."""

from __future__ import annotations

import itertools
from typing import ClassVar

from rankinv.tui import format as fmt
from rankinv.tui.messages import CommandRequested, DetailRequested, RunLookupRequested
from rankinv.tui.poller import RowData
from rankinv.tui.screens.confirm import ConfirmScreen
from rankinv.tui.thresholds import Thresholds
from rankinv.tui.widgets.candidates_table import CandidatesTable
from rankinv.tui.widgets.context_bar import ContextBar
from rankinv.tui.widgets.run_charts import STYLES, Plotted, RunCharts
from rankinv.tui.widgets.status_bar import StatusBar, is_armed
from rankinv.tui.widgets.verdict_feed import VerdictFeed
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from rankinv.messages import Command, CommandKind
from rankinv.store import Candidate, Snapshot

ACTING = frozenset({"kill", "pin", "ack", "arm", "retriage"})
CHARTS_MIN_HEIGHT = 32  # below this the table needs the rows: charts stay in the detail view
EMPTY = (
    "No training runs under this root yet.\n\n"
    "rankinv looks for folders holding what a trainer writes: checkpoint-N/ or global_step_N/ folders (weights "
    "and config.json), trainer_state.json, rankinv.jsonl (the TRL callback), rankinv-run.json (a manifest), "
    "or TensorBoard event files. It does not descend into a run or into hidden folders.\n"
    "Give the folder that holds your runs (or set RANKINV_ROOT); see the README, \"Quick start\"."
)


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        # Not a priority binding: those run before keys queued ahead of them ("j" then enter must open row 2).
        # On the table, enter is DataTable's select (RowSelected opens the detail); in the filter box it submits.
        Binding("enter", "detail", "detail"),
        Binding("slash", "filter", "filter"),
        Binding("escape", "clear_filter", "clear filter", show=False),
        Binding("s", "sort(1)", "sort"),
        Binding("S", "sort(-1)", "sort back", show=False),
        Binding("i", "reverse", "reverse"),
        Binding("K", "kill", "kill"),
        Binding("c", "pin", "pin"),
        Binding("a", "ack", "ack"),
        Binding("A", "arm", "arm"),
        Binding("r", "retriage", "re-triage"),
        Binding("l", "log", "log"),
        Binding("y", "copy", "copy path"),
        Binding("plus,equals_sign", "feed(2)", "feed+", show=False),
        Binding("minus", "feed(-2)", "feed-", show=False),
    ]

    # vars, not reactives: a reactive of the screen repaints the whole screen when it changes (a full compositor
    # update of every widget, each second); the widgets these feed refresh themselves.
    snapshot: var[Snapshot | None] = var(None, init=False)
    rows: var[RowData] = var(RowData, init=False)
    now: var[float] = var(0.0, init=False)

    def __init__(
        self, *, readonly: bool, thresholds: Thresholds | None = None, context: tuple[str, str] = ("", "")
    ) -> None:
        super().__init__()
        self.context = context  # (root, config file or "") for the header
        self.readonly = readonly
        self.thresholds = thresholds or Thresholds()
        # The runs whose curves the poller must read beyond the top of the ranking (selected, marked). Replaced
        # whole on the UI thread, read by the poller thread: a frozenset swap needs no lock.
        self.wanted: frozenset[str] = frozenset()

    def compose(self) -> ComposeResult:
        header = ContextBar(id="context")
        header.root, header.config = self.context
        yield header
        yield StatusBar(id="status").data_bind(now=MainScreen.now)
        yield Input(placeholder="filter: run, kind, KILL, RUNNING… (esc clears)", id="filter")
        yield Static(EMPTY, id="empty", markup=False)
        yield CandidatesTable(self.thresholds, id="candidates")
        yield RunCharts(self.thresholds, id="charts")
        yield VerdictFeed(id="feed").data_bind(now=MainScreen.now)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(StatusBar).readonly = self.readonly
        self.query_one("#filter").display = False
        self.query_one("#empty").display = False
        self.query_one(CandidatesTable).focus()

    @on(Resize)
    def _resized(self, event: Resize) -> None:
        self.set_class(event.size.height >= CHARTS_MIN_HEIGHT, "tall")

    def watch_snapshot(self, old: Snapshot | None, new: Snapshot | None) -> None:
        if new is None:
            return
        table = self.query_one(CandidatesTable)
        table.show(new.candidates, self.rows)
        status = self.query_one(StatusBar)
        status.health, status.store_note = new.health, ""
        status.counts = (len(table.shown), len(new.candidates))
        self.query_one("#empty").display = not new.candidates
        self.query_one(VerdictFeed).events = new.events
        if old is None or is_armed(old.health) != is_armed(new.health):
            self.refresh_bindings()
        self._update_charts()

    def watch_rows(self, rows: RowData) -> None:
        self.query_one(CandidatesTable).row_data = rows
        self._update_charts()

    def show(self, snapshot: Snapshot, rows: RowData) -> None:
        """A new snapshot and its row data: the table is updated once, with both (the same snapshot with more
        curves read: the rows alone)."""
        if snapshot is self.snapshot:
            self.rows = rows
            return
        self.set_reactive(MainScreen.rows, rows)
        self.snapshot = snapshot

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

    # -- the charts pane follows the cursor and the marks -----------------------------------------------------
    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_charts()

    def _update_charts(self) -> None:
        table = self.query_one(CandidatesTable)
        runs_shown = (c for c in table.shown if c.checkpoint is None)  # (only as far as needed: 1,000 rows)
        marks = table.marked  # (a reactive: read once, not per row)
        marked = [c for c in table.shown if c.checkpoint is None and c.subject in marks] if marks else []
        current = self.selected
        selected = [current] if current and current.checkpoint is None else []
        # a checkpoint row: the runs in view, overlaid
        chosen = marked or selected or list(itertools.islice(runs_shown, len(STYLES)))
        self.wanted = frozenset([*(c.run for c in chosen), *table.runs_in_view()])  # the rows' sparklines too
        runs = tuple(Plotted(fmt.candidate_label(c), self.rows.curves.get(c.run, {})) for c in chosen)
        charts = self.query_one(RunCharts)
        if runs != charts.runs:
            charts.runs = runs

    # -- keys ------------------------------------------------------------------------------------------------
    def action_detail(self) -> None:
        candidate = self.selected
        if candidate is not None:
            self.post_message(DetailRequested(candidate))

    @on(DataTable.RowSelected)
    def _row_clicked(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        # At once, not box.focus() (deferred): keys typed right after "/" are already queued and must land here.
        self.set_focus(box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        """Live: every keystroke filters the rows."""
        table = self.query_one(CandidatesTable)
        table.filter_text = event.value
        status = self.query_one(StatusBar)
        status.filter_text = event.value.strip()
        status.counts = (len(table.shown), len(table.candidates))
        self._update_charts()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one(CandidatesTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(CandidatesTable).focus()

    def action_sort(self, step: int) -> None:
        self.query_one(CandidatesTable).cycle_sort(step)

    def action_reverse(self) -> None:
        self.query_one(CandidatesTable).reverse_sort()

    def action_feed(self, delta: int) -> None:
        self.query_one(VerdictFeed).resize(delta)

    def action_log(self) -> None:
        if self.selected is not None:
            self.post_message(RunLookupRequested(self.selected, "log"))

    def action_copy(self) -> None:
        if self.selected is not None:
            self.post_message(RunLookupRequested(self.selected, "copy"))

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
