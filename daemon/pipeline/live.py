"""A run's stage-2 monitor kept up to date point by point: what ``rankinv.monitor.analyse`` computes, at the
cost of the new points (plus the bounded recent windows), not of the run's whole history.

The daemon feeds each run's newly stored points (in log order) to its :class:`LiveMonitor`; :meth:`result` is
equal, field for field, to ``analyse`` over the series the store holds (tests check this on real TRL runs).
That equality rests on mirroring the store: one value per (metric, step), read back in step order with
non-finite values dropped. A point that does not extend a series at its end (a restart, a step logged twice)
makes :meth:`feed` return False; the caller then rebuilds the monitor from the store. Steps beyond 2**53 (where
float steps round) fall back to ``analyse`` itself.

Every value is final once the points it depends on exist (a smoothed value once its right neighbour is logged,
a rolling mean at once), so finished entries are kept in lists and only the last one or two, and the windows,
are computed again per result. The per-step signal keeps its sequential coverage test's running sums
(``rankinv.coverage_kept``), so that test costs the steps since it was last run. ``touched`` counts the points
handled in Python, for the tests of that cost.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from rankinv.daemon.pipeline import slopes
from rankinv.daemon.pipeline.slopes import SlopeWindow

from rankinv.config import MonitorConfig
from rankinv.coverage_kept import KeptSignal
from rankinv.monitor import (
    MAX_SLOPE_POINTS,
    Curve,
    Gain,
    MeanVar,
    MonitorResult,
    RunSeries,
    StepValue,
    analyse,
    gain_of,
    mean_var,
)
from rankinv.monitor import _slope as monitor_slope
from rankinv.stats import Slope

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
EXACT_STEPS = 2**53  # float64 holds every integer step below this exactly
STEP_LIMIT = 2**63  # the store drops a point whose step does not fit SQLite's INTEGER


def _median3(a: float, b: float, c: float) -> float:
    return sorted((a, b, c))[1]


class _Smoothed:
    """Every smoothed value, read from the final list and the provisional tail without copying either."""

    def __init__(self, final: list[float], tail: list[float]):
        self.final, self.tail, self.n = final, tail, len(final) + len(tail)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> float:
        i = i + self.n if i < 0 else i
        return self.final[i] if i < len(self.final) else self.tail[i - len(self.final)]


@dataclass
class _Series:
    """One metric as the store returns it: finite values at strictly increasing steps."""

    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    seen: int | None = None  # the highest step stored, finite or not
    sums: list[float] = field(default_factory=lambda: [0.0])  # running sums, as np.cumsum adds them
    rolling: list[StepValue] = field(default_factory=list)
    _first: int = 0  # the first index inside the rolling window of the last point

    def curve(self) -> Curve:
        return Curve(tuple(self.steps), tuple(self.values))

    def mean(self, lo: int, hi: int) -> float:
        """``rankinv.monitor._mean`` of values[lo:hi] (NumPy's summation order, so equal to the bit)."""
        if hi <= lo:
            return math.nan
        return float(np.add.reduce(np.asarray(self.values[lo:hi], dtype=np.float64))) / (hi - lo)  # np.mean's sum

    def recent(self, window: int) -> int:
        """Index of the first point of ``rankinv.monitor._recent``: steps after the last step minus ``window``."""
        return bisect_right(self.steps, self.steps[-1] - window) if self.steps else 0

    def append(self, step: int, value: float, window: int | None) -> None:
        """Add a point; ``window``: the rolling mean's, None for a series that has none (entropy)."""
        self.steps.append(step)
        self.values.append(value)
        if window is None:
            return
        self.sums.append(value if len(self.sums) == 1 else self.sums[-1] + value)
        i = len(self.steps) - 1
        low = float(step) - window
        while self._first < i and float(self.steps[self._first]) <= low:
            self._first += 1
        mean = (self.sums[i + 1] - self.sums[self._first]) / (i + 1 - self._first)
        self.rolling.append((step, mean))


def _window(steps: list[int], values: list[float], log: bool) -> tuple[FloatArray, FloatArray, IntArray]:
    """The points ``rankinv.monitor._slope`` fits (log of the positive values for ``log``), and their steps."""
    x, y = np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)
    keys = np.asarray(steps, dtype=np.int64)
    if log:
        keep = y > 0
        x, y, keys = x[keep], np.log(y[keep]), keys[keep]
    return x, y, keys


def _fitted_in_full(steps: list[int]) -> bool:
    """Whether :func:`_slope` fits this window in full (:func:`slopes.increasing_fit`), as a stacked fit can."""
    return len(steps) < slopes.INCREMENTAL_FROM and len(steps) <= MAX_SLOPE_POINTS


def _slope(window: SlopeWindow, steps: list[int], values: list[float], log: bool = False,
           given: tuple[Slope | None] | None = None) -> Slope | None:  # fmt: skip
    """``rankinv.monitor._slope`` on a window already cut, its slopes kept in ``window`` between calls; a window
    too short to gain from that is fitted in full (:func:`slopes.increasing_fit`), or taken from ``given`` (the
    same fit made for many windows at once: :meth:`LiveMonitor.give`), one the monitor would thin by the monitor
    itself."""
    if len(steps) > MAX_SLOPE_POINTS:
        return monitor_slope(Curve(tuple(steps), tuple(values)), log=log)
    if given is not None and given[0] is not None and _fitted_in_full(steps):
        fit = given[0]
        return fit if math.isfinite(fit.slope) else None
    x, y, keys = _window(steps, values, log)
    if x.size < 3:
        return None
    # a series holds finite values at strictly increasing steps: a short window is fitted in full as it is
    fit = window.fit(keys, x, y) if len(steps) >= slopes.INCREMENTAL_FROM else slopes.increasing_fit(x, y)
    return fit if math.isfinite(fit.slope) else None


def _pairs_fit(window: SlopeWindow, pairs: tuple[tuple[float, float], ...],
               given: tuple[Slope | None] | None = None) -> Slope | None:  # fmt: skip
    """The prediction's trajectory fit (``theil_sen`` of reward on exp(entropy)) when the pairs are enough to
    gain from keeping their slopes and too few to be thinned, or when ``given`` holds it (fitted with other runs'
    pairs at once); else None (the predictor fits them itself)."""
    if not max(5, slopes.INCREMENTAL_FROM) <= len(pairs) <= MAX_SLOPE_POINTS:
        return given[0] if given is not None and 5 <= len(pairs) < slopes.INCREMENTAL_FROM else None
    arr = np.asarray(pairs, dtype=np.float64)
    return window.fit(np.arange(len(pairs), dtype=np.int64), np.exp(arr[:, 0]), arr[:, 1])


class LiveMonitor:
    """Stage 2 of one run, updated with each batch of new points (see the module docstring)."""

    def __init__(self, config: MonitorConfig, entropy: str, reward: str, zero_std: str):
        self.config = config
        self.names = {entropy: "entropy", reward: "reward", zero_std: "zero_std"}
        self.entropy, self.reward, self.zero_std = _Series(), _Series(), _Series()
        self.exact = True
        self.touched = 0
        # entropy: smoothed values final for indices < len(sm); drops and pairs final up to their pointers
        self.sm: list[float] = []
        self.drops: list[StepValue] = []
        self.below: int | None = None  # first final index at or after the baseline with smoothed <= floor
        self._scanned = 0  # final smoothed indices already checked against the floor
        self.pairs: list[tuple[float, float]] = []
        self._paired = 0  # entropy indices already paired (or found to have no reward at their step)
        self.reward_at: dict[int, float] = {}
        self._given: tuple[tuple[int, int, int], dict[str, tuple[Slope | None]]] | None = None  # see give
        self.signal = KeptSignal()  # steps with both a reward and a zero-std share complete in step order
        self.fits = {"entropy": SlopeWindow(), "reward": SlopeWindow(), "pairs": SlopeWindow()}
        self._start: tuple[int, float] = (-1, math.nan)  # (end index, mean) of the opening reward stretch
        self._opening: tuple[int, MeanVar] = (-1, (math.nan, math.nan, 0))  # (end index, mean_var) of that stretch

    @property
    def points(self) -> int:
        return len(self.entropy.steps) + len(self.reward.steps) + len(self.zero_std.steps)

    def _series(self, key: str) -> _Series:
        s: _Series = getattr(self, key)
        return s

    def feed(self, rows: list[tuple[int, str, float, float | None]]) -> bool:
        """Add stored points ``(step, name, value, time)`` in log order; False when one does not extend its
        series at the end (the caller rebuilds from the store)."""
        for raw, name, value, _ in rows:
            key, step = self.names.get(name), int(raw)
            if key is None or not -STEP_LIMIT <= step < STEP_LIMIT:
                continue
            self.touched += 1
            s = self._series(key)
            if s.seen is not None and step <= s.seen:
                return False
            s.seen = step
            if abs(step) >= EXACT_STEPS:
                self.exact = False
            v = float(value)
            if not math.isfinite(v):
                continue
            s.append(step, v, None if key == "entropy" else self.config.signal_window)
            if key == "reward":
                self.reward_at[step] = v
                z = self.zero_std
                i = bisect_left(z.steps, step)
                if i < len(z.steps) and z.steps[i] == step:
                    self.signal.append(step, v, z.values[i])
            elif key == "zero_std" and step in self.reward_at:
                self.signal.append(step, self.reward_at[step], v)
        if self.exact:
            self._finalise()
        return True

    # -- fits made for many monitors at once ----------------------------------------------------------------
    def _version(self) -> tuple[int, int, int]:
        return len(self.entropy.steps), len(self.reward.steps), len(self.zero_std.steps)

    def windows(self, most: int) -> list[tuple[str, FloatArray, FloatArray]]:
        """The (kind, x, y) that the next :meth:`result` would fit in full with ``theil_sen``, of at most ``most``
        points: its entropy and reward windows and its trajectory pairs (x = exp(entropy)). A caller may fit many
        monitors' windows of one length in one stacked call and hand the fits back with :meth:`give`."""
        if not self.exact:
            return []
        cfg, e, r = self.config, self.entropy, self.reward
        most = min(most, slopes.INCREMENTAL_FROM - 1)
        out = []
        for kind, s, log in (("entropy", e, True), ("reward", r, False)):
            lo = s.recent(cfg.slope_window)
            if len(s.steps) - lo <= most:
                x, y, _ = _window(s.steps[lo:], s.values[lo:], log)
                if x.size >= 3:
                    out.append((kind, x, y))
        if len(e.steps) - bisect_left(e.steps, cfg.baseline_step) > most:  # more pairs than that, or none
            return out
        base_index, _ = self._baseline(_Smoothed(self.sm, self._tail()))
        pairs = self._pairs(base_index) if base_index is not None else ()
        if len(pairs) >= 5:
            arr = np.asarray(pairs, dtype=np.float64)  # as the predictor reads them
            out.append(("pairs", np.exp(arr[:, 0]), arr[:, 1]))
        return out

    def give(self, fits: dict[str, Slope | None]) -> None:
        """The fits of :meth:`windows` (None: fit that one here), for the next :meth:`result` only, provided no
        point came in between."""
        self._given = self._version(), {k: (v,) for k, v in fits.items()}

    def _taken(self) -> dict[str, tuple[Slope | None]]:
        given, self._given = self._given, None
        return given[1] if given is not None and given[0] == self._version() else {}

    # -- the final prefix -----------------------------------------------------------------------------------
    def _finalise(self) -> None:
        e = self.entropy
        n = len(e.values)
        final = n - 1 if n >= 4 else 0  # smoothed values at indices < final no longer change
        v = e.values
        while len(self.sm) < final:
            i = len(self.sm)
            self.touched += 1
            if i == 0:
                out1, out2 = _median3(v[0], v[1], v[2]), _median3(v[1], v[2], v[3])
                self.sm.append(_median3(v[0], out1, 2 * out1 - out2))
            else:
                self.sm.append(_median3(v[i - 1], v[i], v[i + 1]))
        base_index, base = self._baseline(self.sm)
        if base_index is None:
            return
        floor = self._floor(base)
        while len(self.drops) < len(self.sm) - base_index - 1:
            i = base_index + 1 + len(self.drops)
            self.drops.append((e.steps[i], float(1.0 - self.sm[i] / base)))
        self._scanned = max(self._scanned, base_index)
        while self.below is None and self._scanned < len(self.sm):
            if self.sm[self._scanned] <= floor:
                self.below = self._scanned
            self._scanned += 1
        seen = self.reward.seen
        while self._paired < n and seen is not None and e.steps[self._paired] <= seen:
            i = self._paired
            self.touched += 1
            if i >= base_index and e.steps[i] in self.reward_at:
                self.pairs.append((v[i], self.reward_at[e.steps[i]]))
            self._paired += 1

    def _baseline(self, sm: list[float] | _Smoothed) -> tuple[int | None, float]:
        """The baseline point (index, smoothed value) if it lies in ``sm``; (None, nan) otherwise."""
        k = bisect_left(self.entropy.steps, self.config.baseline_step)
        if k >= len(sm) or sm[k] <= 0:
            return None, math.nan
        return k, sm[k]

    def _floor(self, base: float) -> float:
        cfg = self.config
        return cfg.entropy_floor if cfg.entropy_floor is not None else base * (1.0 - cfg.tau_2)

    # -- the provisional tail and the windows, per result ---------------------------------------------------
    def _tail(self) -> list[float]:
        """The smoothed values not yet final (indices from ``len(self.sm)``), as ``rankinv.monitor.smooth``
        computes them."""
        v = self.entropy.values
        n = len(v)
        if n < 3:
            return list(v)
        if n == 3:
            mid = _median3(v[0], v[1], v[2])
            return [mid, mid, mid]
        self.touched += 1
        return [_median3(v[-1], self.sm[-1], 2 * self.sm[-1] - self.sm[-2])]

    def series(self) -> RunSeries:
        return RunSeries(self.entropy.curve(), self.reward.curve(), self.zero_std.curve())

    def result(self) -> MonitorResult:
        """Equal to ``analyse(self.series(), config)`` (``zero_std_expected`` NaN: the caller's to fill)."""
        if not self.exact:
            self.touched += self.points
            return analyse(self.series(), self.config)
        cfg, e = self.config, self.entropy
        given = self._taken()
        tail = self._tail()
        sm = _Smoothed(self.sm, tail)
        base_index, base = self._baseline(sm)
        base_step = e.steps[base_index] if base_index is not None else None
        drops = self._drops(sm, base_index, base)
        last = max((s.steps[-1] for s in (e, self.reward, self.zero_std) if s.steps), default=None)
        lo = e.recent(cfg.slope_window)
        self.touched += len(e.steps) - lo
        fit = _slope(self.fits["entropy"], e.steps[lo:], e.values[lo:], log=True, given=given.get("entropy"))
        floor = self._floor(base) if cfg.entropy_floor is None else cfg.entropy_floor
        reached = bool(e.steps) and e.steps[-1] >= cfg.decision_step
        zero_rolling = self.zero_std.rolling
        pairs = self._pairs(base_index)
        return MonitorResult(
            last_step=last,
            points=len(e.steps),
            restarts=0,  # the store keeps one value per step, in step order: no step ever goes back
            baseline_step=base_step,
            baseline=base,
            entropy_now=sm[-1] if len(sm) else math.nan,
            drops=drops,
            drop_now=drops[-1][1] if drops else math.nan,
            drop_at_decision=self._drop_at(drops, cfg.decision_step) if reached else math.nan,
            decision_reached=reached,
            log_slope=fit,
            floor=floor,
            floor_step=self._floor_step(sm, base_index, floor, fit) if base_index is not None else None,
            zero_std_now=zero_rolling[-1][1] if zero_rolling else math.nan,
            zero_std_expected=math.nan,
            zero_std_rolling=tuple(zero_rolling),
            reward_start=self._reward_start(),
            reward_now=self._window_mean(self.reward, cfg.signal_window),
            reward_slope=self._reward_slope(given.get("reward")),
            reward_rolling=tuple(self.reward.rolling),
            reward_gain=self._reward_gain(),
            entropy_reward=pairs,
            step_signal=self.signal.view(),
            entropy_reward_fit=_pairs_fit(self.fits["pairs"], pairs, given.get("pairs")),
        )

    def _drops(self, sm: _Smoothed, base_index: int | None, base: float) -> tuple[StepValue, ...]:
        if base_index is None:
            return ()
        final = self.drops if base_index < len(self.sm) else []
        tail = [(self.entropy.steps[i], float(1.0 - sm[i] / base)) for i in range(base_index + 1 + len(final),
                                                                                    len(sm))]  # fmt: skip
        self.touched += len(tail)
        return (*final, *tail)

    @staticmethod
    def _drop_at(drops: tuple[StepValue, ...], step: int) -> float:
        i = bisect_right(drops, step, key=lambda d: d[0])
        return drops[i - 1][1] if i else math.nan

    def _floor_step(self, sm: _Smoothed, base_index: int, floor: float, fit: Slope | None) -> float | None:
        below = self.below if base_index < len(self.sm) else None
        if below is None:
            start = max(base_index, self._scanned if base_index < len(self.sm) else base_index)
            self.touched += len(sm) - start
            below = next((i for i in range(start, len(sm)) if sm[i] <= floor), None)
        if below is not None:
            return float(self.entropy.steps[below])
        if fit is None or fit.slope >= 0 or floor <= 0:
            return None
        return (math.log(floor) - fit.intercept) / fit.slope

    def _window_mean(self, s: _Series, window: int) -> float:
        lo = s.recent(window)
        self.touched += len(s.steps) - lo
        return s.mean(lo, len(s.steps))

    def _opening_end(self) -> int:
        """Index just past ``_first(reward, window)``: the opening ``window`` steps, or a quarter of a shorter run."""
        s = self.reward
        end = s.steps[0] + max(1, min(self.config.signal_window, (s.steps[-1] - s.steps[0]) // 4))
        return bisect_left(s.steps, end)

    def _reward_start(self) -> float:
        """``_mean(_first(reward, window))``."""
        if not self.reward.steps:
            return math.nan
        hi = self._opening_end()
        if self._start[0] != hi:  # the stretch's values never change: its mean is computed when its end moves
            self.touched += hi
            self._start = (hi, self.reward.mean(0, hi))
        return self._start[1]

    def _reward_gain(self) -> Gain | None:
        """``rankinv.monitor._gain``: the opening stretch against the trailing window, when they are disjoint."""
        s = self.reward
        if not s.steps:
            return None
        hi, lo = self._opening_end(), s.recent(self.config.signal_window)
        if hi == 0 or lo >= len(s.steps) or lo < hi:
            return None
        if hi < 2 or len(s.steps) - lo < 2:
            return None  # as reward_gain says
        if self._opening[0] != hi:  # the opening stretch's values never change: its sums are taken when its end moves
            self.touched += hi
            self._opening = (hi, mean_var(s.values[:hi]))
        self.touched += len(s.steps) - lo
        return gain_of(self._opening[1], mean_var(s.values[lo:]))

    def _reward_slope(self, given: tuple[Slope | None] | None) -> Slope | None:
        s = self.reward
        lo = s.recent(self.config.slope_window)
        self.touched += len(s.steps) - lo
        return _slope(self.fits["reward"], s.steps[lo:], s.values[lo:], given=given)

    def _pairs(self, base_index: int | None) -> tuple[tuple[float, float], ...]:
        if base_index is None:
            return ()
        if base_index < len(self.sm):
            return tuple(self.pairs)  # every entropy point not yet paired has no reward at its step yet
        e = self.entropy
        out = [(e.values[i], self.reward_at[e.steps[i]]) for i in range(base_index, len(e.steps))
               if e.steps[i] in self.reward_at]  # fmt: skip
        self.touched += len(e.steps) - base_index
        return tuple(out)
