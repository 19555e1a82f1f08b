"""Stage 2: what a GRPO run's own logs say about its entropy, group signal and reward.

Pure and robust by construction, because a kill decision is read from these numbers:

- NaN and infinite values are dropped; a restart (the step goes backwards) starts a new segment that replaces
  every older point at or after its first step, so a resume from a checkpoint keeps the history before it and a
  fresh restart from step 0 keeps only itself (the latest segment wins).
- Every value is read through a 3-point running median (ends extrapolated linearly), so one outlier never moves a
  drop, a baseline or a decision; slopes are Theil–Sen.
- The relative drop and the slope of log-entropy are scale-free, so the mean-token and the worst-token entropy
  definitions both work, provided a run is compared only with itself.

Inputs are plain ``(step, value)`` curves; :func:`series_from_points` adapts ``rankinv.metrics.MetricPoint``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from rankinv.config import MonitorConfig
from rankinv.stats import Slope, theil_sen

FloatArray = npt.NDArray[np.float64]
StepValue = tuple[int, float]
MAX_SLOPE_POINTS = 400  # Theil–Sen is quadratic in points; thin longer windows evenly


@dataclass(frozen=True)
class Curve:
    """One metric's finite values in step order, restarts already resolved."""

    steps: tuple[int, ...] = ()
    values: tuple[float, ...] = ()
    restarts: int = 0

    @classmethod
    def of(cls, steps: Sequence[float], values: Sequence[float]) -> Curve:
        """Clean raw points given in the order they were logged (see the module docstring)."""
        kept: dict[int, float] = {}
        restarts, previous = 0, None
        for raw_step, value in zip(steps, values, strict=True):
            step = int(raw_step)
            if previous is not None and step < previous:
                restarts += 1
                kept = {s: v for s, v in kept.items() if s < step}
            kept[step] = float(value)
            previous = step
        finite = [(s, v) for s, v in sorted(kept.items()) if math.isfinite(v)]
        return cls(tuple(s for s, _ in finite), tuple(v for _, v in finite), restarts)

    def __len__(self) -> int:
        return len(self.steps)

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        return np.asarray(self.steps, dtype=np.float64), np.asarray(self.values, dtype=np.float64)


@dataclass(frozen=True)
class RunSeries:
    """The curves the monitor reads for one run."""

    entropy: Curve = field(default_factory=Curve)
    reward: Curve = field(default_factory=Curve)
    zero_std: Curve = field(default_factory=Curve)


@dataclass(frozen=True)
class Gain:
    """How far the reward rose from its opening window to its recent one, and the standard error of that rise
    from the per-step spread in each window (Welch): what the run has achieved so far, against its noise."""

    gain: float
    se: float

    @property
    def significant(self) -> bool:
        """Risen by more than twice its standard error (a one-sided test at about 2.3%)."""
        return self.gain > 2.0 * self.se


def reward_gain(opening: Sequence[float], recent: Sequence[float]) -> Gain | None:
    """:class:`Gain` of two disjoint windows of per-step rewards; None with fewer than 2 points in either."""
    if len(opening) < 2 or len(recent) < 2:
        return None
    return gain_of(mean_var(opening), mean_var(recent))


MeanVar = tuple[float, float, int]


def mean_var(values: Sequence[float]) -> MeanVar:
    """(``np.mean``, ``np.var(ddof=1)``, count) of at least two values, to the bit: the same NumPy sums in the same
    order, without the two calls' overhead (a live monitor computes one per judgement)."""
    a = np.asarray(values, dtype=np.float64)
    mean = float(np.add.reduce(a)) / a.size
    d = a - mean
    return mean, float(np.add.reduce(d * d)) / (a.size - 1), a.size


def gain_of(opening: MeanVar, recent: MeanVar) -> Gain:
    """The :class:`Gain` of two windows from their :func:`mean_var`."""
    (ma, va, na), (mb, vb, nb) = opening, recent
    return Gain(mb - ma, math.sqrt(va / na + vb / nb))


@dataclass(frozen=True)
class MonitorResult:
    """Everything stage 2 knows about a run at its latest logged step (NaN or None where unknown)."""

    last_step: int | None
    points: int
    restarts: int
    baseline_step: int | None
    baseline: float
    entropy_now: float
    drops: tuple[StepValue, ...]
    """(step, relative drop from the baseline) for every smoothed entropy point after the baseline."""
    drop_now: float
    drop_at_decision: float
    decision_reached: bool
    log_slope: Slope | None
    """Theil–Sen slope of log-entropy per step over the recent window, with its interval."""
    floor: float
    floor_step: float | None
    """Projected step at which entropy crosses ``floor`` (already crossed: the first step below it)."""
    zero_std_now: float
    zero_std_expected: float
    zero_std_rolling: tuple[StepValue, ...]
    reward_start: float
    reward_now: float
    reward_slope: Slope | None
    reward_rolling: tuple[StepValue, ...]
    """Mean reward over the trailing ``signal_window`` steps at every logged point (pairs with zero_std_rolling)."""
    reward_gain: Gain | None
    """The recent reward level minus the opening one, with its standard error (None while the windows overlap)."""
    entropy_reward: tuple[tuple[float, float], ...]
    """(entropy, reward) pairs logged at the same step since the baseline, for the entropy–performance law."""
    step_signal: Sequence[tuple[int, float, float]] = field(default=(), compare=False)
    """(step, mean reward, zero-std share) as logged at every step that has both, neither smoothed nor rolled:
    each step's own count of groups, what the sequential coverage test (``rankinv.coverage``) reads (a live
    monitor's keeps that test up to date: ``rankinv.coverage_kept``)."""
    entropy_reward_fit: Slope | None = field(default=None, compare=False)
    """``theil_sen`` of reward on exp(entropy) over those pairs when the producer already holds it (the daemon
    keeps it up to date point by point); None: the predictor fits the pairs itself."""

    @property
    def zero_std_excess(self) -> float:
        """Observed minus predicted share of degenerate groups: positive when groups agree more than p implies."""
        return self.zero_std_now - self.zero_std_expected


class PointLike(Protocol):
    @property
    def step(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...


def series_from_points(
    points: Iterable[PointLike],
    entropy_name: str = "entropy",
    reward_name: str = "reward_mean",
    zero_std_name: str = "frac_reward_zero_std",
) -> RunSeries:
    """Adapt canonical MetricPoints (in logged order) to a :class:`RunSeries`."""
    raw: dict[str, tuple[list[int], list[float]]] = {n: ([], []) for n in (entropy_name, reward_name, zero_std_name)}
    for point in points:
        if point.name in raw:
            raw[point.name][0].append(int(point.step))
            raw[point.name][1].append(float(point.value))
    return RunSeries(*(Curve.of(*raw[n]) for n in (entropy_name, reward_name, zero_std_name)))


def smooth(values: Sequence[float] | FloatArray) -> FloatArray:
    """3-point running median; each end is the median of itself, its smoothed neighbour and the line through
    the two smoothed neighbours.

    A straight series is returned unchanged (a curved one up to a second-order bias at its first point), and a
    single outlier anywhere is replaced by a value between its neighbours.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size < 3:
        return v.copy()
    out = v.copy()
    out[1:-1] = np.median(np.stack([v[:-2], v[1:-1], v[2:]]), axis=0)
    if v.size == 3:
        out[0] = out[-1] = out[1]
        return out
    out[0] = np.median([v[0], out[1], 2 * out[1] - out[2]])
    out[-1] = np.median([v[-1], out[-2], 2 * out[-2] - out[-3]])
    return out


def _recent(curve: Curve, window: int) -> Curve:
    if not curve.steps:
        return curve
    start = curve.steps[-1] - window
    idx = [i for i, s in enumerate(curve.steps) if s > start]
    return Curve(tuple(curve.steps[i] for i in idx), tuple(curve.values[i] for i in idx))


def _thin(steps: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    if steps.size <= MAX_SLOPE_POINTS:
        return steps, values
    idx = np.unique(np.linspace(0, steps.size - 1, MAX_SLOPE_POINTS).round().astype(int))
    return steps[idx], values[idx]


def _slope(curve: Curve, log: bool = False) -> Slope | None:
    steps, values = curve.arrays()
    if log:
        keep = values > 0
        steps, values = steps[keep], np.log(values[keep])
    if steps.size < 3:
        return None
    fit = theil_sen(*_thin(steps, values))
    return fit if math.isfinite(fit.slope) else None


def _baseline(steps: FloatArray, smoothed: FloatArray, s0: int) -> tuple[int | None, float]:
    after = np.flatnonzero(steps >= s0)
    if after.size == 0 or smoothed[after[0]] <= 0:
        return None, math.nan
    return int(steps[after[0]]), float(smoothed[after[0]])


def _drops(entropy: Curve, s0: int) -> tuple[int | None, float, tuple[StepValue, ...], FloatArray]:
    steps, values = entropy.arrays()
    sm = smooth(values)
    base_step, base = _baseline(steps, sm, s0)
    if base_step is None:
        return None, math.nan, (), sm
    after = steps > base_step
    drops = tuple((int(s), float(1.0 - v / base)) for s, v in zip(steps[after], sm[after], strict=True))
    return base_step, base, drops, sm


def _drop_at(drops: tuple[StepValue, ...], step: int) -> float:
    before = [d for s, d in drops if s <= step]
    return before[-1] if before else math.nan


def _floor_step(entropy: Curve, smoothed: FloatArray, floor: float, fit: Slope | None, since: int) -> float | None:
    below = np.flatnonzero((smoothed <= floor) & (np.asarray(entropy.steps) >= since))
    if below.size:
        return float(entropy.steps[int(below[0])])
    if fit is None or fit.slope >= 0 or floor <= 0:
        return None
    return (math.log(floor) - fit.intercept) / fit.slope


def _rolling_mean(curve: Curve, window: int) -> tuple[StepValue, ...]:
    """Mean over the trailing ``window`` steps at every point: a noisy per-step share becomes a level."""
    steps, values = curve.arrays()
    if not steps.size:
        return ()
    sums = np.concatenate(([0.0], np.cumsum(values)))
    first = np.searchsorted(steps, steps - window, side="right")
    idx = np.arange(1, steps.size + 1)
    means = (sums[idx] - sums[first]) / (idx - first)
    return tuple((int(s), float(v)) for s, v in zip(steps, means, strict=True))


def _first(curve: Curve, window: int) -> Curve:
    """The opening stretch: ``window`` steps, or a quarter of the run when that is shorter."""
    if not curve.steps:
        return curve
    end = curve.steps[0] + max(1, min(window, (curve.steps[-1] - curve.steps[0]) // 4))
    idx = [i for i, s in enumerate(curve.steps) if s < end]
    return Curve(tuple(curve.steps[i] for i in idx), tuple(curve.values[i] for i in idx))


def _gain(reward: Curve, window: int) -> Gain | None:
    """:func:`reward_gain` of the opening stretch (:func:`_first`) and the trailing ``window`` steps, when the
    second begins after the first ends."""
    opening, recent = _first(reward, window), _recent(reward, window)
    if not opening.steps or not recent.steps or recent.steps[0] <= opening.steps[-1]:
        return None
    return reward_gain(opening.values, recent.values)


def _mean(curve: Curve) -> float:
    return float(np.mean(curve.values)) if curve.values else math.nan


def _pairs(series: RunSeries, since: int | None) -> tuple[tuple[float, float], ...]:
    if since is None:
        return ()
    rewards = dict(zip(series.reward.steps, series.reward.values, strict=True))
    return tuple(
        (h, rewards[s]) for s, h in zip(series.entropy.steps, series.entropy.values, strict=True)
        if s >= since and s in rewards
    )


def step_signal(series: RunSeries) -> tuple[tuple[int, float, float], ...]:
    """:attr:`MonitorResult.step_signal` of ``series``."""
    zero = dict(zip(series.zero_std.steps, series.zero_std.values, strict=True))
    return tuple((s, r, zero[s]) for s, r in zip(series.reward.steps, series.reward.values, strict=True) if s in zero)


def analyse(
    series: RunSeries, config: MonitorConfig | None = None, *, expected_zero_std: float = math.nan
) -> MonitorResult:
    """Stage-2 analysis of one run's latest segment.

    ``expected_zero_std`` is the triage's predicted degenerate-group fraction at the run's group size (from its
    per-prompt p); the monitor reports how far the logged ``frac_reward_zero_std`` runs above it.
    """
    cfg = config or MonitorConfig()
    entropy = series.entropy
    base_step, base, drops, sm = _drops(entropy, cfg.baseline_step)
    last = max((c.steps[-1] for c in (entropy, series.reward, series.zero_std) if c.steps), default=None)
    fit = _slope(_recent(Curve(entropy.steps, entropy.values), cfg.slope_window), log=True)
    floor = cfg.entropy_floor if cfg.entropy_floor is not None else base * (1.0 - cfg.tau_2)
    zero_rolling = _rolling_mean(series.zero_std, cfg.signal_window)
    reached = bool(entropy.steps) and entropy.steps[-1] >= cfg.decision_step
    return MonitorResult(
        last_step=last,
        points=len(entropy),
        restarts=max(entropy.restarts, series.reward.restarts, series.zero_std.restarts),
        baseline_step=base_step,
        baseline=base,
        entropy_now=float(sm[-1]) if sm.size else math.nan,
        drops=drops,
        drop_now=drops[-1][1] if drops else math.nan,
        drop_at_decision=_drop_at(drops, cfg.decision_step) if reached else math.nan,
        decision_reached=reached,
        log_slope=fit,
        floor=floor,
        floor_step=_floor_step(entropy, sm, floor, fit, base_step) if base_step is not None else None,
        zero_std_now=zero_rolling[-1][1] if zero_rolling else math.nan,
        zero_std_expected=expected_zero_std,
        zero_std_rolling=zero_rolling,
        reward_start=_mean(_first(series.reward, cfg.signal_window)),
        reward_now=_mean(_recent(series.reward, cfg.signal_window)),
        reward_slope=_slope(_recent(series.reward, cfg.slope_window)),
        reward_rolling=_rolling_mean(series.reward, cfg.signal_window),
        reward_gain=_gain(series.reward, cfg.signal_window),
        entropy_reward=_pairs(series, base_step),
        step_signal=step_signal(series),
    )
