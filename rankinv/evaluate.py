"""The one evaluation path: features → monitor → prediction → verdict.

The daemon (from the store), ``rankinv explain`` and ``calibrate`` (from a bare run directory), ``rank`` and the
ladder (from a triage report alone) all call these two functions, so the same run gets the same numbers
whichever of them looks at it. Callers only choose where the inputs come from; every choice of a fallback
(the group size when no triage report exists, the expected zero-std fraction, the groups a logged step from the
config or else the run manifest) is made here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from rankinv.config import Config
from rankinv.monitor import Curve, MonitorResult, RunSeries, analyse, step_signal
from rankinv.predict import Features, FittedModel, Prediction, at_group_size, predict
from rankinv.run_groups import NOT_STATED, StatedGroups, stated_groups
from rankinv.verdict import Verdict, decide


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation produced; ``features`` are the ones the predictor read (triage or fallback),
    ``groups`` the groups a logged step the coverage test was told (and where that came from)."""

    monitor: MonitorResult | None
    features: Features
    prediction: Prediction
    verdict: Verdict
    groups: StatedGroups = NOT_STATED


def run_features(triage: Features | None, name: str, manifest: Mapping[str, Any] | None, cfg: Config) -> Features:
    """The triage report's features at the run's group size (from its manifest), else a bare record with the
    manifest's group size, else the configured ``[triage] group_size``."""
    g = (manifest or {}).get("group_size")
    group = g if isinstance(g, int) and not isinstance(g, bool) and g >= 2 else None
    if triage is not None:
        return triage if group is None else at_group_size(triage, group)
    return Features(name=name, group_size=group or cfg.triage.group_size)


def evaluate_run(
    series: RunSeries,
    triage: Features | None,
    config: Config,
    *,
    name: str,
    manifest: Mapping[str, Any] | None = None,
    model: FittedModel | None = None,
    pinned: bool = False,
    analysed: MonitorResult | None = None,
) -> Evaluation:
    """Stage 2 for a run with logs: its monitor summary, the prediction and the verdict.

    ``analysed``: ``analyse(series, config.monitor)`` when the caller already holds it (the daemon keeps it up
    to date point by point); its ``zero_std_expected`` is filled in here, and its ``step_signal`` (which the
    sequential coverage test reads) is read from ``series`` when it holds none."""
    features = run_features(triage, name, manifest, config)
    expected = features.degenerate_fraction if triage is not None else math.nan
    if analysed is None:
        mon = analyse(series, config.monitor, expected_zero_std=expected)
    elif triage is None or config.verdict.stage2_policy != "groups":
        # the sequential coverage test needs the start's triage under the groups policy: no per-step signal read
        nothing_new = math.isnan(expected) and math.isnan(analysed.zero_std_expected)
        mon = analysed if nothing_new else replace(analysed, zero_std_expected=expected)
    else:  # the per-step signal: the live monitor's own (its test kept), else read from the series as analyse would
        mon = replace(analysed, zero_std_expected=expected, step_signal=analysed.step_signal or step_signal(series))
    pred = predict(features, mon, model, config.predict)
    groups = stated_groups(manifest, config)
    verdict = decide(mon, features if triage is not None else None, pred, config, pinned=pinned,
                     group_size=features.group_size, reward_ceiling=reward_ceiling(manifest, config),
                     groups_per_step=groups.value)  # fmt: skip
    note = groups.note()
    if note is not None:  # an ignored manifest value: said once per run, never a cause of the decision
        verdict = replace(verdict, reasons=(*verdict.reasons, note))
    return Evaluation(mon, features, pred, verdict, groups)


def verdict_history(
    series: RunSeries, triage: Features | None, config: Config, *, name: str,
    manifest: Mapping[str, Any] | None = None,
) -> list[tuple[int, Verdict]]:
    """The verdict :func:`evaluate_run` gives after each logged entropy step, as a daemon evaluating at every step
    would have issued it (for audits and experiments: a run's first KILL is when a daemon would have acted)."""
    out = []
    for step in series.entropy.steps:
        prefix = RunSeries(*(_upto(c, step) for c in (series.entropy, series.reward, series.zero_std)))
        out.append((step, evaluate_run(prefix, triage, config, name=name, manifest=manifest).verdict))
    return out


def _upto(curve: Curve, step: int) -> Curve:
    keep = [i for i, s in enumerate(curve.steps) if s <= step]
    return Curve(tuple(curve.steps[i] for i in keep), tuple(curve.values[i] for i in keep))


def evaluate_checkpoint(
    triage: Features, config: Config, *, model: FittedModel | None = None, pinned: bool = False
) -> Evaluation:
    """Stage 1 for a checkpoint with a triage report and no RL yet: the prediction and the verdict."""
    pred = predict(triage, None, model, config.predict)
    return Evaluation(None, triage, pred, decide(None, triage, pred, config, pinned=pinned))


def reward_ceiling(manifest: Mapping[str, Any] | None, config: Config) -> float:
    """The highest mean reward a group can reach: ``[verdict] reward_ceiling`` when set, else one per reward
    function the run manifest names (TRL sums its reward functions; rankinv assumes each is 0/1), else 1."""
    if config.verdict.reward_ceiling is not None:
        return float(config.verdict.reward_ceiling)
    funcs = (manifest or {}).get("reward_functions")
    return float(len(funcs)) if isinstance(funcs, list) and funcs else 1.0
