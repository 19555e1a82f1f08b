"""One rung of the ladder: triage an SFT checkpoint, run GRPO from it with rankinv attached, measure the outcome."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from examples.ladder import tinymodel
from examples.ladder.settings import LadderSettings
from examples.ladder.tasks import task_module
from rankinv import passk
from rankinv.assess import assess
from rankinv.config import Config
from rankinv.evaluate import evaluate_checkpoint, verdict_history
from rankinv.predict import Features, Prediction, features_from_report
from rankinv.triage.report import TriageReport
from rankinv.verdict import Decision


@dataclass(frozen=True)
class Row:
    """What the table shows for one SFT depth."""

    depth: int
    epochs: float
    pass1: float
    """Pre-RL pass@1 at T=1 (mean pass rate over the RL prompts)."""
    entropy: float
    """Pre-RL rollout entropy, nats per generated token at T=1 (exact, from the sampling distribution)."""
    headroom: float
    pre_pass10: float
    predicted: float
    """rankinv's predicted final pass@10 from the triage report alone (before any RL)."""
    predicted_lo: float
    predicted_hi: float
    predicted_rl: float
    """rankinv's prediction after reading the GRPO run's logs (prior blended with the run's trajectory)."""
    actual: float
    """Measured pass@10 after GRPO (n samples per prompt at T=1, unbiased estimator)."""
    stage1: str
    stage1_reasons: tuple[str, ...]
    stage2: str
    stage2_summary: str
    stage2_first_kill: int | None
    """The first step at which stage 2 said KILL (a daemon would have acted then), None if never."""
    rl_zero_std: float
    run_dir: str
    pre_passk: float = float("nan")
    """Pre-RL pass@K at the largest K the triage measured (K = its samples per prompt; unbiased, per prompt)."""
    never_solved: float = float("nan")
    degenerate: float = float("nan")
    """Expected share of degenerate groups at the run's g, pre-RL (unbiased, per prompt)."""
    eval_loss: float = float("nan")
    """The SFT run's eval_loss on held-out SFT data at this checkpoint (NaN when the task has none)."""
    rl_entropy_start: float = float("nan")
    """The RL run's entropy at the stage-2 baseline step."""
    after_counts: tuple[tuple[int, int], ...] = ()
    """(passes, samples) per prompt after RL."""
    features: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The pre-RL features rankinv's predictor read (``rankinv.predict.Features`` as a dict), so the stored
    results can be re-predicted by later code without re-running anything."""
    answer_probs: tuple[float, ...] = ()
    """Per prompt (the triage report's order), the checkpoint's teacher-forced probability of its valid answers
    (:mod:`examples.ladder.answers`): how near a prompt the triage never solved is to being solved."""


def triage(checkpoint: Path, config: Config, samples: int, probe: bool) -> TriageReport:
    """rankinv stage 1 on ``checkpoint`` (writes ``rankinv-triage.json`` next to it)."""
    from rankinv.triage.run import TriageRequest, run_triage, settings_from_config

    t = config.triage
    request = TriageRequest(checkpoint=str(checkpoint), prompts=t.prompts,
                            settings=settings_from_config(t, samples=samples), group_size=t.group_size,
                            reward=t.reward, backend=t.backend, probe=probe)
    return run_triage(request, t)


def pass_at_10(report: TriageReport) -> float:
    """Mean unbiased pass@10 over the report's prompts, from its per-prompt pass counts."""
    n = [p.samples for p in report.prompts]
    c = [p.passes for p in report.prompts]
    return passk.mean_pass_at_k(n, c, 10)


def rl(checkpoint: Path, run_dir: Path, s: LadderSettings) -> Path:
    """Real TRL GRPO from ``checkpoint`` with rankinv's callback writing the run's log and manifest."""
    from rankinv.integrations.trl import RankinvCallback

    task = task_module(s.task)
    return tinymodel.grpo(
        checkpoint, task.rl_prompts(), [task.reward], run_dir, callbacks=[RankinvCallback()],
        max_steps=s.rl_steps, learning_rate=s.rl_learning_rate, per_device_train_batch_size=s.rl_batch_size,
        num_generations=s.group_size, max_completion_length=s.max_completion_length, seed=s.seed,
    )


def pass_at_n(report: TriageReport) -> float:
    """Mean unbiased pass@K at K = the fewest samples any prompt had (the largest K measured for every prompt)."""
    n = [p.samples for p in report.prompts]
    return passk.mean_pass_at_k(n, [p.passes for p in report.prompts], min(n))


def counts(report: TriageReport) -> tuple[tuple[int, int], ...]:
    return tuple((p.passes, p.samples) for p in report.prompts)


def _stage1(report: TriageReport) -> tuple[str, tuple[str, ...]]:
    return ("FLAG" if report.flag.flagged else "ok"), tuple(r.metric for r in report.flag.reasons)


def answer_probs(checkpoint: Path, ids: Sequence[str], task_name: str) -> tuple[float, ...]:
    """The checkpoint's teacher-forced probability of each prompt's valid answers, prompts named by id in
    ``ids``'s order (a triage report's)."""
    from examples.ladder.answers import answer_likelihoods

    task = task_module(task_name)
    by_id = {item.id: item.prompt for item in task.ITEMS}
    prompts = [by_id[i] for i in ids]
    return tuple(a.valid_prob for a in answer_likelihoods(str(checkpoint), prompts, task.VALID))


def measure(depth: int, checkpoint: Path, run_dir: Path, s: LadderSettings, config: Config) -> Row:
    """Stage 1, GRPO, stage 2 and the outcome for one depth."""
    before = triage(checkpoint, config, s.triage_samples, probe=True)
    likelihoods = answer_probs(checkpoint, [p.id for p in before.prompts], s.task)
    features = features_from_report(before)
    predicted: Prediction = evaluate_checkpoint(features, config).prediction
    final = rl(checkpoint, run_dir, s)
    after = triage(final, config, s.eval_samples, probe=False)
    judged = assess(run_dir, config)
    m = before.metrics
    stage1, reasons = _stage1(before)
    return Row(
        depth=depth, epochs=round(depth * s.sft_batch_size / len(task_module(s.task).sft_rows()), 2),
        pass1=m.pass_at_1.estimate, entropy=_entropy(before), headroom=m.headroom.estimate,
        pre_pass10=pass_at_10(before) if s.triage_samples >= 10 else float("nan"),
        predicted=predicted.estimate, predicted_lo=predicted.lo, predicted_hi=predicted.hi,
        predicted_rl=judged.prediction.estimate, actual=pass_at_10(after), stage1=stage1, stage1_reasons=reasons,
        stage2=judged.verdict.decision.value, stage2_summary=judged.verdict.summary(),
        stage2_first_kill=first_kill(run_dir, config, judged.features),
        rl_zero_std=judged.monitor.zero_std_now, run_dir=str(run_dir),
        pre_passk=pass_at_n(before), never_solved=m.never_solved_fraction.estimate,
        degenerate=m.degenerate_fraction.estimate, eval_loss=features.sft_eval_loss,
        rl_entropy_start=judged.monitor.baseline, after_counts=counts(after), features=dataclasses.asdict(features),
        answer_probs=likelihoods,
    )


def first_kill(run_dir: Path, config: Config, triage: Features | None) -> int | None:
    """Replay the run's log step by step through the one evaluation path; the first KILL's step."""
    from rankinv.assess import primary_series
    from rankinv.ingest.sources import read_manifest

    series = primary_series(run_dir, run_dir.name, config)
    history = verdict_history(series, triage, config, name=run_dir.name, manifest=read_manifest(run_dir))
    return next((step for step, v in history if v.decision is Decision.KILL), None)


def _entropy(report: TriageReport) -> float:
    m: Any = report.metrics
    interval = m.entropy_token_mean or m.entropy_monte_carlo
    return float(interval.estimate)
