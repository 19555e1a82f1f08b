"""One candidate: its curves with the stage-2 window and thresholds, triage summary, reasons and audit log.

The data is read in a worker thread (``_load``) and arrives as one :class:`DetailLoaded` message; the app
sets ``candidate`` again on every snapshot, which re-reads, so the screen stays live.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rankinv.tui import format as fmt
from rankinv.tui.messages import DetailFailed, DetailLoaded
from rankinv.tui.poller import Detail, read_detail
from rankinv.tui.thresholds import Thresholds, kill_line
from rankinv.tui.widgets.action_history import ActionHistory
from rankinv.tui.widgets.curve_plot import CurvePlot
from rankinv.tui.widgets.reasons_list import ReasonsList
from rankinv.tui.widgets.triage_summary import TriageSummary
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from rankinv import metrics
from rankinv.store import Candidate, Series, StoreError


def headline(c: Candidate) -> str:
    pred = fmt.interval(c.predicted, c.predicted_lo, c.predicted_hi)
    verdict = fmt.verdict_text(fmt.verdict_name(c)).plain
    conf = f" (conf {fmt.pct(c.confidence)})" if c.confidence is not None else ""
    return (
        f"{fmt.candidate_label(c)}  [{fmt.KINDS.get(c.kind, c.kind)}]  step {c.step or fmt.DASH}  "
        f"pass@10 {pred} ({fmt.basis(c.basis) if c.basis else 'no prediction'})  {verdict}{conf}  job {fmt.job(c)}"
    )


class DetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "back")]

    candidate: reactive[Candidate | None] = reactive(None, init=False)

    def __init__(self, candidate: Candidate, store_path: Path, thresholds: Thresholds) -> None:
        super().__init__()
        self.store_path, self.thresholds = store_path, thresholds
        self.set_reactive(DetailScreen.candidate, candidate)
        self.detail: Detail | None = None

    def compose(self) -> ComposeResult:
        yield Static(headline(self.candidate) if self.candidate else "", id="headline", markup=False)
        with VerticalScroll(id="detail-body"):
            yield CurvePlot("entropy (nats, from 0)", id="curve-entropy", classes="curve")
            yield CurvePlot("reward mean (0–1)", id="curve-reward", classes="curve")
            yield CurvePlot("zero-std fraction (0–1)", id="curve-zero-std", classes="curve")
            yield ReasonsList(id="reasons")
            yield TriageSummary(id="triage")
            yield ActionHistory(id="actions")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        run_curves = self.candidate is not None and self.candidate.checkpoint is None
        for plot in self.query(CurvePlot):
            plot.display = run_curves  # an SFT checkpoint has no RL curves yet: triage comes first
        self.query_one("#detail-body").focus()  # arrows and page keys scroll at once
        self._load()

    def watch_candidate(self, old: Candidate | None, new: Candidate | None) -> None:
        if new is not None and new != old:
            self.query_one("#headline", Static).update(Text(headline(new)))
            self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail")
    def _load(self) -> None:
        candidate = self.candidate
        if candidate is None:
            return
        try:
            self.post_message(DetailLoaded(read_detail(self.store_path, candidate)))
        except StoreError as exc:
            self.post_message(DetailFailed(str(exc)))

    @on(DetailLoaded)
    def _show(self, message: DetailLoaded) -> None:
        d, t = message.detail, self.thresholds
        self.detail = d
        h = d.series.get(metrics.ENTROPY)
        line = kill_line(h, t)
        top = max([*(h.values if h else ()), line or 0.0, 0.1]) * 1.1
        kill = f"kill line {line:.3g} = H(s0)·(1−τ₂ {t.tau_2:.0%})" if line is not None else ""
        self._plot("#curve-entropy", h, (0.0, top), line, kill)
        self._plot("#curve-reward", d.series.get(metrics.REWARD_MEAN), (0.0, 1.0), None, "")
        self._plot("#curve-zero-std", d.series.get(metrics.FRAC_REWARD_ZERO_STD), (0.0, 1.0), t.max_zero_std,
                   f"dead above {t.max_zero_std:.2f}")
        self.query_one(ReasonsList).verdicts = d.verdicts
        triage = self.query_one(TriageSummary)
        triage.report, triage.problem = d.triage, d.triage_problem
        self.query_one(ActionHistory).actions = d.actions

    def _plot(self, selector: str, series: Series | None, y_range: tuple[float, float], line: float | None,
              label: str) -> None:
        plot = self.query_one(selector, CurvePlot)
        plot.window, plot.y_range, plot.threshold, plot.threshold_label = self.thresholds.window, y_range, line, label
        plot.series = series

    @on(DetailFailed)
    def _failed(self, message: DetailFailed) -> None:
        self.notify(message.reason, severity="error")

    def action_back(self) -> None:
        self.app.pop_screen()
