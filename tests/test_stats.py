from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rankinv import stats

LADDER = json.loads((Path(__file__).parent / "data" / "paper_qwen_ladder.json").read_text())["ladder"]


def test_paper_ladder_rank_correlations() -> None:
    peak = [r["peak_pass10_after_grpo"] for r in LADDER]
    assert round(stats.spearman([r["entropy_nats"] for r in LADDER], peak), 2) == 0.70
    assert round(stats.spearman([r["pass1_t1"] for r in LADDER], peak), 2) == -0.90


def _brute_spearman(x: list[float], y: list[float]) -> float:
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    return float(np.corrcoef(rx, ry)[0, 1])


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=3, max_size=30))
def test_spearman_and_kendall_are_bounded_and_symmetric(pairs: list[tuple[int, int]]) -> None:
    x = [float(a) for a, _ in pairs]
    y = [float(b) for _, b in pairs]
    rho = stats.spearman(x, y)
    tau = stats.kendall_tau(x, y)
    if math.isnan(rho):
        assert len(set(x)) == 1 or len(set(y)) == 1
        return
    assert -1 - 1e-12 <= rho <= 1 + 1e-12
    assert rho == pytest.approx(stats.spearman(y, x))
    assert rho == pytest.approx(_brute_spearman(x, y))
    assert -1 - 1e-12 <= tau <= 1 + 1e-12


def test_kendall_known_values() -> None:
    assert stats.kendall_tau([1, 2, 3, 4], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert stats.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # tau-b with ties: one tie in x -> concordant 5, discordant 0 of 6 pairs
    assert stats.kendall_tau([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(5 * 6))


def test_rankdata_average_ties() -> None:
    np.testing.assert_allclose(stats.rankdata([10, 20, 20, 5]), [2, 3.5, 3.5, 1])


def test_theil_sen_robust_to_outlier_and_interval_covers() -> None:
    x = np.arange(20, dtype=float)
    y = 2.0 * x + 1.0
    y[5] = 1000.0
    fit = stats.theil_sen(x, y)
    assert fit.slope == pytest.approx(2.0)
    assert fit.intercept == pytest.approx(1.0)
    assert fit.lo <= 2.0 <= fit.hi
    nan = stats.theil_sen([1.0, 2.0], [float("nan"), 1.0])
    assert math.isnan(nan.slope)


def test_bootstrap_interval_contains_estimate_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(1)
    small = stats.bootstrap_ci(rng.normal(size=20))
    large = stats.bootstrap_ci(rng.normal(size=2000))
    assert small.lo <= small.estimate <= small.hi
    assert (large.hi - large.lo) < (small.hi - small.lo)
    with pytest.raises(ValueError):
        stats.bootstrap_ci([])


def test_paired_bootstrap_detects_a_consistent_difference() -> None:
    rng = np.random.default_rng(2)
    base = rng.uniform(size=50)
    diff = stats.paired_bootstrap_diff(base + 0.1, base)
    assert diff.estimate == pytest.approx(0.1)
    assert diff.lo > 0.09
    with pytest.raises(ValueError, match="same prompts"):
        stats.paired_bootstrap_diff([1, 2], [1])


def test_theil_sen_slope_is_the_median_of_every_pairwise_slope() -> None:
    """The cached pair indices and the sorted-array medians give np.median of all pairwise slopes (and of the
    residuals, for the intercept), to the bit."""
    rng = np.random.default_rng(3)
    for n in range(2, 40):
        x, y = rng.integers(0, 25, n).astype(float), rng.normal(size=n)
        pairs = [(y[b] - y[a]) / (x[b] - x[a]) for a in range(n) for b in range(a + 1, n) if x[b] != x[a]]
        if pairs:
            fit = stats.theil_sen(x, y)
            assert fit.slope == float(np.median(pairs))
            assert fit.intercept == float(np.median(y - fit.slope * x))  # the intercept's median too



def _theil_sen_by_sorting(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """The textbook computation: sort every pairwise slope, np.median for the intercept (the oracle)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    slopes = np.sort([(y[b] - y[a]) / (x[b] - x[a]) for a in range(n) for b in range(a + 1, n) if x[b] != x[a]])
    slope = float(np.median(slopes))
    c = 1.959963984540054 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    m = slopes.size
    lo, hi = max(0, math.floor((m - c) / 2)), min(m - 1, math.ceil((m + c) / 2))
    return slope, float(np.median(y - slope * x)), float(slopes[lo]), float(slopes[hi])


def test_theil_sen_equals_the_sorted_computation_to_the_bit() -> None:
    """Slope, intercept and interval equal those of the textbook computation (ties, even and odd counts)."""
    rng = np.random.default_rng(11)
    for n in [*range(3, 40), 99, 100, 101]:
        for x in (rng.integers(0, max(3, n // 2), n).astype(float), np.arange(n, dtype=float)):
            y = rng.integers(-3, 4, n).astype(float) if n % 3 == 0 else rng.normal(size=n)
            fit = stats.theil_sen(x, y)
            assert (fit.slope, fit.intercept, fit.lo, fit.hi) == _theil_sen_by_sorting(x, y)
