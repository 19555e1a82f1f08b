"""Small, dependency-free statistics: bootstrap intervals, Theil–Sen slopes, rank correlations."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Statistic = Callable[[FloatArray], float]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    lo: float
    hi: float
    confidence: float = 0.95

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.lo:.4g}, {self.hi:.4g}]"


def _mean(x: FloatArray) -> float:
    return float(np.mean(x))


def _percentiles(
    n: int, resampled: Callable[[npt.NDArray[np.int64]], float], resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    """Percentile interval of ``resampled(indices)`` over ``resamples`` draws of n indices with replacement."""
    if n == 0:
        raise ValueError("bootstrap needs at least one value")
    rng = np.random.default_rng(seed)
    stats = np.array([resampled(i) for i in rng.integers(0, n, size=(resamples, n))])
    alpha = (1.0 - confidence) / 2
    lo, hi = np.nanquantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_ci(
    values: npt.ArrayLike,
    statistic: Statistic = _mean,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over the first axis (prompts) of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    lo, hi = _percentiles(x.shape[0], lambda i: statistic(x[i]), resamples, confidence, seed)
    return Interval(statistic(x), lo, hi, confidence)


def paired_bootstrap_diff(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    statistic: Statistic = _mean,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval for statistic(a) - statistic(b) where a[i] and b[i] were measured on the same prompt i."""
    xa = np.asarray(a, dtype=np.float64)
    xb = np.asarray(b, dtype=np.float64)
    if xa.shape != xb.shape:
        raise ValueError(f"paired bootstrap needs the same prompts for both: shapes {xa.shape} and {xb.shape}")
    lo, hi = _percentiles(
        xa.shape[0], lambda i: statistic(xa[i]) - statistic(xb[i]), resamples, confidence, seed
    )
    return Interval(statistic(xa) - statistic(xb), lo, hi, confidence)


@dataclass(frozen=True)
class Slope:
    """Theil–Sen line: median pairwise slope with Sen's distribution-free interval."""

    slope: float
    intercept: float
    lo: float
    hi: float
    n: int


@functools.lru_cache(maxsize=512)
def _pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Index pairs i < j of n points (cached: the monitor fits windows of the same few sizes over and over)."""
    i, j = np.triu_indices(n, k=1)
    i.flags.writeable = j.flags.writeable = False
    return i, j


@functools.lru_cache(maxsize=16)
def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def theil_sen(x: npt.ArrayLike, y: npt.ArrayLike, confidence: float = 0.95) -> Slope:
    """Robust slope of y on x: the median of pairwise slopes; NaN points are dropped.

    The interval follows Sen (1968): ranks of the sorted pairwise slopes offset by z * sqrt(Var S),
    Var S = n(n-1)(2n+5)/18 (no tie correction).
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if not ok.all():  # the masks are skipped when they keep everything (the same values in the same order)
        xs, ys = xs[ok], ys[ok]
    i, j = _pairs(xs.size)
    dx, dy = xs[j] - xs[i], ys[j] - ys[i]
    keep = dx != 0
    if not keep.all():
        dx, dy = dx[keep], dy[keep]
    slopes = dy / dx
    slopes.sort()  # partitioning for the four order statistics was measured slower (1.39 vs 1.21 ms at 400 points)
    return theil_sen_sorted(xs, ys, slopes, confidence)


def _ranks(n: int, m: int, confidence: float) -> tuple[int, int]:
    """Sen's interval: the ranks of its ends among ``m`` sorted slopes of ``n`` points."""
    c = _z(confidence) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    return max(0, math.floor((m - c) / 2)), min(m - 1, math.ceil((m + c) / 2))


def _line(xs: FloatArray, ys: FloatArray, slope: float, lo: float, hi: float) -> Slope:
    residuals = np.sort(ys - slope * xs)  # their median as np.median takes it, without its overhead
    mid = residuals.size // 2
    intercept = float(residuals[mid]) if residuals.size % 2 else float((residuals[mid - 1] + residuals[mid]) / 2)
    return Slope(slope, intercept, lo, hi, xs.size)


def theil_sen_sorted(xs: FloatArray, ys: FloatArray, slopes: FloatArray, confidence: float = 0.95) -> Slope:
    """:func:`theil_sen` of finite points ``xs``, ``ys`` whose pairwise slopes (pairs with equal x left out)
    are given sorted: for a caller that keeps them sorted as points come and go."""
    if slopes.size == 0:
        return Slope(math.nan, math.nan, math.nan, math.nan, xs.size)
    half = slopes.size // 2  # the median of the sorted slopes, as np.median takes it
    slope = float(slopes[half]) if slopes.size % 2 else float((slopes[half - 1] + slopes[half]) / 2)
    lo_rank, hi_rank = _ranks(xs.size, slopes.size, confidence)
    return _line(xs, ys, slope, float(slopes[lo_rank]), float(slopes[hi_rank]))


def rankdata(values: npt.ArrayLike) -> FloatArray:
    """Ranks from 1, ties given their average rank."""
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(v.size, dtype=np.float64)
    sorted_v = v[order]
    start = 0
    while start < v.size:
        end = start
        while end + 1 < v.size and sorted_v[end + 1] == sorted_v[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _paired_finite(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape:
        raise ValueError(f"rank correlation needs equal lengths, got {xs.size} and {ys.size}")
    ok = np.isfinite(xs) & np.isfinite(ys)
    return xs[ok], ys[ok]


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman's rho: Pearson correlation of average ranks (NaN pairs dropped; NaN if < 2 pairs or constant)."""
    xs, ys = _paired_finite(x, y)
    if xs.size < 2:
        return math.nan
    rx, ry = rankdata(xs), rankdata(ys)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(np.sum(rx * rx) * np.sum(ry * ry)))
    return float(np.sum(rx * ry) / denom) if denom > 0 else math.nan


def kendall_tau(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Kendall's tau-b (handles ties; NaN pairs dropped; NaN if undefined)."""
    xs, ys = _paired_finite(x, y)
    n = xs.size
    if n < 2:
        return math.nan
    i, j = np.triu_indices(n, k=1)
    sx = np.sign(xs[j] - xs[i])
    sy = np.sign(ys[j] - ys[i])
    concordance = float(np.sum(sx * sy))
    n0 = n * (n - 1) / 2
    tx = float(np.sum(sx == 0))
    ty = float(np.sum(sy == 0))
    denom = math.sqrt((n0 - tx) * (n0 - ty))
    return concordance / denom if denom > 0 else math.nan
