"""Stage-2 monitor: baseline, drop, slope, floor, group signal and reward from messy real-world series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rankinv.config import MonitorConfig
from rankinv.metrics import MetricPoint
from rankinv.monitor import Curve, RunSeries, analyse, mean_var, reward_gain, series_from_points, smooth


def exp_entropy(h0: float, rate: float, steps: range | list[int]) -> Curve:
    return Curve.of(list(steps), [h0 * math.exp(-rate * s) for s in steps])


def test_curve_drops_nan_and_keeps_the_last_value_of_a_repeated_step() -> None:
    c = Curve.of([1, 2, 2, 3, 4], [1.0, math.nan, 0.5, math.inf, 0.25])
    assert c.steps == (1, 2, 4)
    assert c.values == (1.0, 0.5, 0.25)


def test_a_resume_replaces_the_overlap_and_keeps_the_history_before_it() -> None:
    c = Curve.of([1, 2, 3, 4, 5, 3, 4, 6], [9, 9, 9, 9, 9, 1, 2, 3])
    assert c.steps == (1, 2, 3, 4, 6)
    assert c.values == (9, 9, 1, 2, 3)
    assert c.restarts == 1


def test_a_fresh_restart_keeps_only_the_latest_segment() -> None:
    c = Curve.of([10, 20, 30, 10, 20], [5.0, 4.0, 3.0, 1.0, 0.9])
    assert c.steps == (10, 20)
    assert c.values == (1.0, 0.9)


def test_smooth_keeps_monotone_series_and_removes_one_outlier() -> None:
    mono = np.linspace(2.0, 0.5, 9)
    np.testing.assert_allclose(smooth(mono), mono)
    for i in range(9):
        spiked = mono.copy()
        spiked[i] = 50.0
        out = smooth(spiked)
        assert out.max() <= mono.max() + 1e-12, f"outlier at {i} leaked through"


def test_baseline_is_s0_or_the_first_logged_step_after_it() -> None:
    cfg = MonitorConfig(baseline_step=10, decision_step=150)
    dense = analyse(RunSeries(entropy=exp_entropy(1.0, 0.005, range(1, 201))), cfg)
    assert dense.baseline_step == 10
    sparse = analyse(RunSeries(entropy=exp_entropy(1.0, 0.005, range(0, 201, 25))), cfg)
    assert sparse.baseline_step == 25
    assert sparse.baseline == pytest.approx(math.exp(-0.005 * 25))


def test_drop_by_the_decision_step_and_the_slope_match_the_curve() -> None:
    rate = math.log(1 / 0.36) / 140  # a 64% drop from step 10 to 150
    m = analyse(RunSeries(entropy=exp_entropy(0.12, rate, range(1, 301))))
    assert m.decision_reached
    assert m.drop_at_decision == pytest.approx(0.64, abs=1e-9)
    assert m.drop_now == pytest.approx(1 - math.exp(-rate * 290), abs=1e-9)
    assert m.log_slope is not None
    assert m.log_slope.lo <= -rate <= m.log_slope.hi
    assert m.log_slope.slope == pytest.approx(-rate, rel=1e-6)


def test_projected_floor_crossing_is_where_the_log_line_meets_the_floor() -> None:
    rate = 0.002
    m = analyse(RunSeries(entropy=exp_entropy(1.0, rate, range(1, 101))), MonitorConfig(tau_2=0.5))
    expected = math.log(2) / rate + 10  # baseline at step 10; the floor is half of it
    assert m.floor == pytest.approx(math.exp(-rate * 10) / 2)
    assert m.floor_step == pytest.approx(expected, rel=1e-6)
    crossed = analyse(RunSeries(entropy=exp_entropy(1.0, 0.02, range(1, 101))))
    assert crossed.floor_step is not None and crossed.floor_step <= 100


def test_not_yet_at_the_decision_step_gives_no_decision_drop() -> None:
    m = analyse(RunSeries(entropy=exp_entropy(1.0, 0.01, range(1, 60))))
    assert not m.decision_reached
    assert math.isnan(m.drop_at_decision)
    assert m.drop_now > 0.3


@pytest.mark.parametrize("values", [[], [math.nan] * 20])
def test_empty_or_nan_only_series_give_unknowns_not_errors(values: list[float]) -> None:
    m = analyse(RunSeries(entropy=Curve.of(list(range(len(values))), values)))
    assert m.points == 0
    assert m.baseline_step is None and math.isnan(m.drop_now) and m.drops == ()
    assert m.log_slope is None and m.floor_step is None


def test_zero_std_is_a_rolling_level_compared_with_the_triage_prediction() -> None:
    steps = list(range(1, 61))
    zero = Curve.of(steps, [0.5 if s % 2 else 1.0 for s in steps])  # alternating, as 2 groups per batch log
    m = analyse(RunSeries(zero_std=zero), MonitorConfig(signal_window=20), expected_zero_std=0.4)
    assert m.zero_std_now == pytest.approx(0.75)
    assert m.zero_std_excess == pytest.approx(0.35)
    assert all(v == pytest.approx(0.75) for s, v in m.zero_std_rolling if s >= 20)


def test_reward_trend_and_entropy_reward_pairs() -> None:
    steps = list(range(1, 101))
    entropy = Curve.of(steps, [1.0 - 0.004 * s for s in steps])
    reward = Curve.of(steps, [0.1 + 0.005 * s for s in steps])
    m = analyse(RunSeries(entropy=entropy, reward=reward))
    assert m.reward_slope is not None and m.reward_slope.slope == pytest.approx(0.005)
    assert m.reward_now > m.reward_start
    assert len(m.entropy_reward) == 91 and m.entropy_reward[0] == (pytest.approx(0.96), pytest.approx(0.15))


def test_either_entropy_definition_gives_the_same_relative_drop() -> None:
    """A worst-token series is on another scale; the relative drop and log-slope do not care."""
    steps = list(range(1, 201))
    shape = [math.exp(-0.004 * s) for s in steps]
    points = [MetricPoint("r", s, "entropy", 0.3 * v) for s, v in zip(steps, shape, strict=True)]
    points += [MetricPoint("r", s, "entropy_max", 7.0 * v) for s, v in zip(steps, shape, strict=True)]
    mean = analyse(series_from_points(points))
    worst = analyse(series_from_points(points, entropy_name="entropy_max"), MonitorConfig(entropy_metric="entropy_max"))
    assert mean.drop_at_decision == pytest.approx(worst.drop_at_decision)
    assert mean.log_slope is not None and worst.log_slope is not None
    assert mean.log_slope.slope == pytest.approx(worst.log_slope.slope)


def test_series_from_points_resolves_a_restart_in_logged_order() -> None:
    names = ("entropy", "reward_mean", "frac_reward_zero_std")
    points = [MetricPoint("r", s, n, float(s)) for s in (1, 2, 3, 4) for n in names]
    points += [MetricPoint("r", s, n, 10.0 + s) for s in (3, 4, 5) for n in names]
    series = series_from_points(points)
    for curve in (series.entropy, series.reward, series.zero_std):
        assert curve.steps == (1, 2, 3, 4, 5)
        assert curve.values == (1.0, 2.0, 13.0, 14.0, 15.0)
    assert analyse(series).restarts == 1


def test_mean_var_is_numpys_mean_and_variance_to_the_bit() -> None:
    """The gain's sums, taken without np.mean and np.var's overhead, are theirs exactly (oracle: NumPy itself) at
    every length the summation order changes with (pairwise blocks of 8 and 128) and at awkward magnitudes."""
    rng = np.random.default_rng(16)
    for n in [2, 3, 7, 8, 9, 16, 17, 127, 128, 129, 300, 1000]:
        for scale in (1e-9, 1.0, 3e7):
            values = (rng.normal(size=n) * scale + scale / 3).tolist()
            mean, var, count = mean_var(values)
            assert (mean, var, count) == (float(np.mean(values)), float(np.var(values, ddof=1)), n)
    a, b = [0.1, 0.3, 0.2], [0.5, 0.7, 0.4, 0.6]
    gain = reward_gain(a, b)
    assert gain is not None
    assert gain.gain == float(np.mean(b)) - float(np.mean(a))
    assert gain.se == math.sqrt(float(np.var(a, ddof=1)) / 3 + float(np.var(b, ddof=1)) / 4)
    assert reward_gain([0.1], b) is None
