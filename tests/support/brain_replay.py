"""A triaged GRPO run written record by record through the daemon's brain, as the daemon would see it grow.

The run's starting checkpoint and its triage report go into the store first (the run's parent), then each step's
entropy, reward and zero-std rows, each followed by the brain's judgement. Tests compare what it stores, step by
step, with ``evaluate_run`` over the log as read from the run directory (what ``explain`` shows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankinv.daemon.pipeline.brain import Brain

from rankinv.assess import start_report
from rankinv.config import Config
from rankinv.metrics import FRAC_REWARD_ZERO_STD, REWARD_MEAN
from rankinv.monitor import Curve, RunSeries
from rankinv.store import RunRecord, Store
from rankinv.triage.digest import summarize
from rankinv.triage.report import read_report


@dataclass(frozen=True)
class Judged:
    step: int
    outcome: Any  # the brain's written outcome (its ``verdict``)
    record: RunRecord  # the run as the brain read it from the store
    prefix: RunSeries  # the run's series up to this step


def replay(store: Store, brain: Brain, run: Path, series: RunSeries, *, cfg: Config, manifest: Any,
           checkpoint_step: int) -> Iterator[Judged]:  # fmt: skip
    """Store the run under its parent checkpoint ``/sft/checkpoint-<checkpoint_step>`` (with the run's start
    triage report), then write and judge it step by step."""
    report_path = start_report(run)
    assert report_path is not None
    checkpoint = f"/sft/checkpoint-{checkpoint_step}"
    store.upsert_run("sft", "/sft", kind="sft")
    store.upsert_checkpoint("sft", checkpoint, checkpoint_step, True)
    report = read_report(report_path)
    store.put_triage_report(checkpoint, report, summarize(report))
    store.upsert_run(run.name, str(run), kind="grpo", parent=checkpoint, manifest=manifest)
    curves = {cfg.monitor.entropy_metric: series.entropy, REWARD_MEAN: series.reward,
              FRAC_REWARD_ZERO_STD: series.zero_std}  # fmt: skip
    for step in series.entropy.steps:
        rows = [(step, n, c.values[c.steps.index(step)], None) for n, c in curves.items() if step in c.steps]
        with store.transaction():
            store.add_metrics(run.name, rows)
            brain.stored(run.name, rows)
            record = store.run(run.name)
            assert record is not None
            (outcome,) = brain.write([brain.judge(record)])
        prefix = RunSeries(*(Curve(c.steps[: c.steps.index(step) + 1], c.values[: c.steps.index(step) + 1])
                             for c in (series.entropy, series.reward, series.zero_std)))  # fmt: skip
        yield Judged(step, outcome, record, prefix)
