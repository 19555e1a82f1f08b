"""Monitor, predict, verdict: the core's pure functions applied to what the store holds, results written back.

A GRPO run (or any run with metrics) gets a monitor summary, a predicted final pass@10 and a verdict; an SFT
checkpoint with a triage report gets a prediction and a stage-1 verdict. The monitor of a run is a
:class:`~rankinv.daemon.pipeline.live.LiveMonitor` fed with the points as they are stored, so judging a run
costs its new points, not its history; it is built from the store once (at the first judgement, after a
restart of the run's steps, or after eviction). Live monitors are kept for at most ``LIVE_POINTS`` points in
all (least recently judged evicted first), so memory stays bounded whatever the number or length of runs.
A batch of runs is judged first and written after (:meth:`Brain.judge`, :meth:`Brain.write`): a statement per
table for the lot instead of three per run; its short slope windows are fitted together first (:meth:`Brain.prefit`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rankinv.daemon.pipeline import slopes
from rankinv.daemon.pipeline.history import History
from rankinv.daemon.pipeline.ingest import Rows
from rankinv.daemon.pipeline.live import FloatArray, LiveMonitor

from rankinv.config import Config
from rankinv.evaluate import evaluate_checkpoint, evaluate_run
from rankinv.messages import finite_or_none
from rankinv.metrics import FRAC_REWARD_ZERO_STD, REWARD_MEAN
from rankinv.monitor import Curve, MonitorResult, RunSeries
from rankinv.predict import Features, Prediction, features_from_report
from rankinv.stats import Slope
from rankinv.store import RunRecord, Store
from rankinv.store.writes import MonitorRow, PredictionRow, VerdictRow
from rankinv.verdict import CONVERGED, CONVERGING, Verdict

UNREAD = RunSeries()
LIVE_POINTS = 300_000  # about 220 bytes each with their lists (tracemalloc): about 65 MB in all


class Judged(NamedTuple):
    """One run's judgement, as the rows a batch writes together (:meth:`Brain.write`)."""

    run: str
    verdict: Verdict
    monitor: MonitorRow
    prediction: PredictionRow
    row: VerdictRow


@dataclass(frozen=True)
class Outcome:
    """A stored verdict: its id, whether it is a new row (a changed decision or summary), the decision of the
    subject's verdict before it (None for its first; the store read it while writing), and the verdict itself."""

    run: str
    checkpoint: str | None
    verdict_id: int
    is_new: bool
    verdict: Verdict
    previous: str | None


class Brain:
    def __init__(self, store: Store, config: Config):
        self.store, self.config = store, config
        self.history = History(store, config, self.series, self.features_of)
        self.live: OrderedDict[str, LiveMonitor] = OrderedDict()
        self.live_points = 0
        self.names = (config.monitor.entropy_metric, REWARD_MEAN, FRAC_REWARD_ZERO_STD)

    def series(self, run: str) -> RunSeries:
        got = self.store.series(run, self.names)
        curves = [Curve.of(got[n].steps, got[n].values) if n in got else Curve() for n in self.names]
        return RunSeries(*curves)

    # -- live monitors ---------------------------------------------------------------------------------------
    def stored(self, run: str, rows: Rows) -> None:
        """New points of ``run`` were written to the store: its live monitor (if any) follows them."""
        live = self.live.get(run)
        if live is None:
            return
        before = live.points
        if live.feed(rows):
            self.live_points += live.points - before
        else:  # not an append at the end (a restart): rebuilt from the store when next judged
            self.live_points -= before
            del self.live[run]

    def forget(self, run: str | None = None) -> None:
        """Drop a run's live monitor (all of them with no run), e.g. after its writes were rolled back."""
        if run is None:
            self.live.clear()
            self.live_points = 0
        elif (live := self.live.pop(run, None)) is not None:
            self.live_points -= live.points

    def follow_new(self, run: str) -> None:
        """An empty live monitor for a run the store holds no point of yet: fed as its points are written, it is
        the one :meth:`monitor_of` would build from the store, without reading them back."""
        if run not in self.live:
            self.live[run] = LiveMonitor(self.config.monitor, *self.names)

    def monitor_of(self, run: str) -> LiveMonitor:
        """The run's live monitor, built from the store when there is none."""
        live = self.live.get(run)
        if live is None:
            live = LiveMonitor(self.config.monitor, *self.names)
            got = self.store.series(run, self.names)
            live.feed([(step, name, value, None) for name in self.names if name in got
                       for step, value in zip(got[name].steps, got[name].values, strict=True)])  # fmt: skip
            self.live[run] = live
            self.live_points += live.points
        self.live.move_to_end(run)
        while self.live_points > LIVE_POINTS and len(self.live) > 1:
            _, old = self.live.popitem(last=False)
            self.live_points -= old.points
        return live

    def prefit(self, runs: Sequence[str]) -> None:
        """Fit the short windows of the live monitors of ``runs`` that are about to be judged, every window of one
        length in one stacked call (:func:`slopes.stacked_fits`, equal to each run's own fit to the bit): a
        judgement's two slopes and trajectory fit cost a share of a few NumPy calls, not a dozen calls each."""
        groups: dict[int, list[tuple[dict[str, Slope | None], str, FloatArray, FloatArray]]] = {}
        given = []
        for run in runs:
            live = self.live.get(run)
            if live is None:
                continue
            fits: dict[str, Slope | None] = {}
            for kind, x, y in live.windows(slopes.STACK_POINTS):
                groups.setdefault(x.size, []).append((fits, kind, x, y))
            given.append((live, fits))
        for rows in groups.values():
            got = slopes.stacked_fits(np.stack([r[2] for r in rows]), np.stack([r[3] for r in rows]))
            for (fits, kind, _, _), fit in zip(rows, got, strict=True):
                fits[kind] = fit
        for live, fits in given:
            live.give(fits)

    def features_of(self, checkpoint: str | None) -> Features | None:
        """Stage-1 features from the triage report stored for ``checkpoint`` (the run's parent), if any."""
        if not checkpoint:
            return None
        report = self.store.triage_report(checkpoint)
        return None if report is None else features_from_report(report)

    def evaluate_run(self, run: RunRecord) -> Outcome:
        return self.write([self.judge(run)])[0]

    def judge(self, run: RunRecord) -> Judged:
        """Stage 2 of a GRPO run from its live monitor: the rows to write (nothing is written yet)."""
        live = self.monitor_of(run.name)
        # the series is read only without ``analysed``, which the live monitor always gives: not copied for nothing
        e = evaluate_run(UNREAD, self.features_of(run.parent), self.config, name=run.name,
                         manifest=run.manifest, model=self.history.model(), pinned=run.pinned == "continue",
                         analysed=live.result())  # fmt: skip
        m, p, v = e.monitor, e.prediction, e.verdict
        assert m is not None
        return Judged(run.name, v, _monitor_row(run.name, m), _prediction_row(run.name, None, m.last_step, p),
                      _verdict_row(run.name, None, v, "2"))  # fmt: skip

    def write(self, judged: Sequence[Judged]) -> list[Outcome]:
        """Store a batch's judgements: its monitors, predictions and verdicts in a statement each (a changed
        decision's verdict one by one, in order); the outcomes in the same order."""
        if not judged:
            return []
        self.store.put_monitors([j.monitor for j in judged])
        self.store.put_predictions([j.prediction for j in judged])
        written = self.store.put_verdicts([j.row for j in judged])
        return [Outcome(j.run, None, w.id, w.is_new, j.verdict, w.previous)
                for j, w in zip(judged, written, strict=True)]  # fmt: skip

    def evaluate_checkpoint(self, run: RunRecord, checkpoint: str, step: int | None) -> Outcome | None:
        features = self.features_of(checkpoint)
        if features is None:
            return None
        e = evaluate_checkpoint(features, self.config, model=self.history.model(), pinned=run.pinned == "continue")
        self._put_prediction(run.name, checkpoint, step, e.prediction)
        return self._put_verdict(run.name, checkpoint, e.verdict, stage="1")

    def _put_prediction(self, run: str, checkpoint: str | None, step: int | None, p: Prediction) -> None:
        self.store.put_predictions([_prediction_row(run, checkpoint, step, p)])

    def _put_verdict(self, run: str, checkpoint: str | None, verdict: Verdict, stage: str) -> Outcome:
        (w,) = self.store.put_verdicts([_verdict_row(run, checkpoint, verdict, stage)])
        return Outcome(run, checkpoint, w.id, w.is_new, verdict, w.previous)


def _monitor_row(run: str, m: MonitorResult) -> MonitorRow:
    detail = {"baseline_step": m.baseline_step, "baseline": finite_or_none(m.baseline), "points": m.points,
              "restarts": m.restarts, "decision_reached": m.decision_reached, "floor": finite_or_none(m.floor),
              "floor_step": m.floor_step, "reward_now": finite_or_none(m.reward_now)}  # fmt: skip
    return run, m.last_step, m.entropy_now, m.drop_now, m.zero_std_now, detail


def _prediction_row(run: str, checkpoint: str | None, step: int | None, p: Prediction) -> PredictionRow:
    return run, checkpoint, step, p.estimate, p.lo, p.hi, p.basis, {k: finite_or_none(v) for k, v in p.terms}


def _verdict_row(run: str, checkpoint: str | None, verdict: Verdict, stage: str) -> VerdictRow:
    return (run, checkpoint, verdict.step, verdict.decision.value, verdict.confidence, stage, _headline(verdict),
            verdict.reasons)  # fmt: skip


def _headline(verdict: Verdict) -> str:
    """The verdict's stable words: decision and its reasons without numbers that drift every step.

    ``put_verdict`` starts a new row only when decision or summary changes, so the summary must not include
    values that move with each logged point.
    """
    grades = [r.metric for r in verdict.reasons
              if r.grade in ("kill", "watch", "pin", "protect") or r.metric in (CONVERGED, CONVERGING)][:3]
    return f"{verdict.decision.value}: {'; '.join(grades) or 'no concerns'}"
