"""The sliding Theil–Sen keeps the fit of the full computation while costing only the slopes of points that
join or leave, and the daemon's live monitor and prediction stay equal to the full path when it is used.

Oracles: a naive Theil–Sen written here (every pair in Python, ``sorted``, ``statistics.median``, Sen's ranks
from the formula), ``rankinv.stats.theil_sen`` itself, and ``rankinv.monitor.analyse`` / the predictor's own fit
on the real TRL runs of ``tests/data/reallogs`` and the real GRPO runs of the hump ladder archive, grown record
by record, compared to the bit against ``theil_sen`` (a zero's sign included). Cost is counted (slopes computed),
never timed.
"""

from __future__ import annotations

import itertools
import math
import statistics
import tarfile
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rankinv.daemon.pipeline import slopes
from rankinv.daemon.pipeline.live import LiveMonitor
from rankinv.daemon.pipeline.slopes import SlopeWindow

from rankinv.config import MonitorConfig
from rankinv.ingest import START, Source
from rankinv.metrics import FRAC_REWARD_ZERO_STD, REWARD_MEAN
from rankinv.monitor import Curve, RunSeries, analyse
from rankinv.predict import trajectory
from rankinv.stats import Slope, theil_sen
from tests.test_daemon_incremental import CORPUS, GRPO_CASES, NAMES, Row, same

LADDER = Path(__file__).parent.parent / "examples" / "ladder" / "results" / "runs" / "hump-seed0.tar.gz"


def naive(x: list[float], y: list[float]) -> Slope:
    """Theil–Sen by the book: the median of every pairwise slope, Sen's interval at 95%."""
    s = sorted((y[j] - y[i]) / (x[j] - x[i]) for i, j in itertools.combinations(range(len(x)), 2) if x[j] != x[i])
    n = len(x)
    if not s:
        return Slope(math.nan, math.nan, math.nan, math.nan, n)
    slope = statistics.median(s)
    intercept = statistics.median([b - slope * a for a, b in zip(x, y, strict=True)])
    c = NormalDist().inv_cdf(0.975) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    lo, hi = max(0, math.floor((len(s) - c) / 2)), min(len(s) - 1, math.ceil((len(s) + c) / 2))
    return Slope(slope, intercept, s[lo], s[hi], n)


def equal(a: Slope, b: Slope, signs: bool = True) -> bool:
    """Field by field, NaN equal to NaN; with ``signs`` a zero's sign too (a naive Python sort may order 0.0 and
    -0.0 otherwise than NumPy's, so against :func:`naive` values are compared, against ``theil_sen`` bits)."""
    pairs = zip((a.slope, a.intercept, a.lo, a.hi, a.n), (b.slope, b.intercept, b.lo, b.hi, b.n), strict=True)
    return all((u == v and (not signs or math.copysign(1, u) == math.copysign(1, v)))
               or (math.isnan(u) and math.isnan(v)) for u, v in pairs)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    # x on a 0.001 grid: slopes stay finite, so the naive oracle's medians are defined (an infinite slope's
    # residual is NaN, which Python's sort places anywhere)
    xs=st.lists(st.one_of(st.integers(0, 6).map(float), st.integers(-10**6, 10**6).map(lambda v: v / 1000)),
                min_size=3, max_size=70),
    ys=st.lists(st.one_of(st.just(0.0), st.just(1.0), st.floats(-1e6, 1e6)), min_size=70, max_size=70),
    moves=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=40),
)  # fmt: skip
def test_sliding_fit_equals_the_naive_fit_on_generated_windows(xs: list[float], ys: list[float],
                                                               moves: list[tuple[int, int]]) -> None:  # fmt: skip
    """Windows that grow, slide, shrink and jump back over points with tied x and tied slopes."""
    window, lo, hi = SlopeWindow(incremental_from=0), 0, min(3, len(xs))
    for grow, drop in moves:
        hi, lo = min(len(xs), hi + grow), lo + drop
        if grow == 0 and drop == 0:
            lo = max(0, lo - 2)  # back: the kept state cannot serve it
        lo = min(lo, hi)
        x, y = np.array(xs[lo:hi]), np.array(ys[lo:hi])
        got = window.fit(np.arange(lo, hi, dtype=np.int64), x, y)
        assert equal(got, naive(xs[lo:hi], ys[lo:hi]), signs=False)
        assert equal(got, theil_sen(x, y))


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 50), min_size=3, max_size=127),
    ys=st.lists(st.one_of(st.just(0.0), st.just(1.0), st.floats(-1e6, 1e6)), min_size=127, max_size=127),
)
def test_a_short_increasing_window_is_fitted_as_theil_sen_fits_it(gaps: list[int], ys: list[float]) -> None:
    """A live series' window (finite values at strictly increasing steps) is fitted without theil_sen's checks:
    equal to it to the bit, and to the naive fit in value."""
    x = np.cumsum(np.asarray(gaps, dtype=np.float64))
    y = np.asarray(ys[: x.size], dtype=np.float64)
    got = slopes.increasing_fit(x, y)
    assert equal(got, theil_sen(x, y))
    assert equal(got, naive(x.tolist(), y.tolist()), signs=False)


def test_a_long_window_sliding_by_one_costs_its_own_slopes_only() -> None:
    """At the default threshold (windows of at least INCREMENTAL_FROM points): a step costs 2n slopes, not n²/2."""
    rng = np.random.default_rng(7)
    n, xs, ys = 200, np.arange(600, dtype=np.float64), rng.normal(size=600).round(2)  # rounded: many ties
    window = SlopeWindow()
    window.fit(np.arange(n), xs[:n], ys[:n])
    for start in range(1, 60):
        before = window.computed
        keys = np.arange(start, start + n)
        got = window.fit(keys, xs[keys], ys[keys])
        assert window.computed - before <= 2 * n
        assert equal(got, theil_sen(xs[keys], ys[keys]))
    assert equal(got, naive(xs[keys].tolist(), ys[keys].tolist()), signs=False)


def test_a_changed_value_or_a_non_finite_one_is_fitted_from_scratch() -> None:
    x, y = np.arange(150, dtype=np.float64), np.linspace(0, 1, 150) ** 2
    window = SlopeWindow()
    window.fit(np.arange(150), x, y)
    y2 = y.copy()
    y2[3] = 5.0  # the same keys, another value: not reused
    assert equal(window.fit(np.arange(150), x, y2), theil_sen(x, y2))
    y2[7] = math.nan
    assert equal(window.fit(np.arange(150), x, y2), theil_sen(x, y2))
    assert equal(window.fit(np.arange(1, 150), x[1:], y[1:]), theil_sen(x[1:], y[1:]))


def _ladder_rows(tmp: Path) -> dict[str, list[Row]]:
    with tarfile.open(LADDER) as tar:
        tar.extractall(tmp, filter="data")
    out = {}
    for log in sorted(tmp.glob("ladder/rl/*/rankinv.jsonl")):
        points, _ = Source(log, "jsonl").open(log.parent.name).read_new(START)
        out[log.parent.name] = [(p.step, p.name, p.value, p.time) for p in points]
    return out


def _corpus_rows() -> dict[str, list[Row]]:
    out = {}
    for case in GRPO_CASES:
        points, _ = Source(CORPUS / case / "rankinv.jsonl", "jsonl").open(case).read_new(START)
        out[case] = [(p.step, p.name, p.value, p.time) for p in points]
    return out


CONFIGS = [MonitorConfig(), MonitorConfig(baseline_step=2, slope_window=6, signal_window=3),
           MonitorConfig(baseline_step=0, slope_window=40)]  # fmt: skip


@pytest.mark.parametrize("cfg", CONFIGS)
def test_live_monitor_on_the_sliding_path_equals_the_full_path_on_real_runs(
    cfg: MonitorConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every window on the sliding path (threshold 0): the monitor result equals ``analyse`` and the trajectory
    fit it hands the predictor equals the predictor's own fit, so the prediction is the same."""
    monkeypatch.setattr(slopes, "INCREMENTAL_FROM", 0)
    runs = {**_corpus_rows(), **_ladder_rows(tmp_path)}
    assert len(runs) >= 10
    fitted = 0
    for rows in runs.values():
        live = LiveMonitor(cfg, *NAMES)
        by_step: dict[int, list[Row]] = {}
        for r in rows:
            by_step.setdefault(r[0], []).append(r)
        fed: list[Row] = []
        for record in by_step.values():
            assert live.feed(record)
            fed += record
            got = live.result()
            series = RunSeries(*(Curve.of([r[0] for r in fed if r[1] == n], [r[2] for r in fed if r[1] == n])
                                 for n in NAMES))  # fmt: skip
            assert same(got, analyse(series, cfg))
            if got.entropy_reward_fit is not None:
                fitted += 1
                pairs = np.asarray(got.entropy_reward, dtype=np.float64)
                assert equal(got.entropy_reward_fit, theil_sen(np.exp(pairs[:, 0]), pairs[:, 1]))
                without = trajectory(analyse(series, cfg))
                assert same(trajectory(got), without)
    assert fitted > 100


def test_the_trajectory_fit_is_handed_over_only_where_keeping_it_pays_and_the_predictor_would_not_thin() -> None:
    cfg = MonitorConfig(baseline_step=0)
    live = LiveMonitor(cfg, *NAMES)
    for s in range(1, 420):
        live.feed([(s, "entropy", 1.0 - s / 1000, None), (s, REWARD_MEAN, (s % 9) / 10, None),
                   (s, FRAC_REWARD_ZERO_STD, 0.5, None)])  # fmt: skip
        got = live.result()
        n = len(got.entropy_reward)
        assert (got.entropy_reward_fit is not None) == (slopes.INCREMENTAL_FROM <= n <= 400)
        if s in (130, 300, 400):
            assert got.entropy_reward_fit is not None
            pairs = np.asarray(got.entropy_reward, dtype=np.float64)
            assert equal(got.entropy_reward_fit, naive(np.exp(pairs[:, 0]).tolist(), pairs[:, 1].tolist()), signs=False)



@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(2, 40),
    rows=st.lists(st.tuples(st.lists(st.one_of(st.integers(0, 5).map(float), st.floats(-1e3, 1e3),
                                               st.just(math.nan)), min_size=40, max_size=40),
                            st.lists(st.one_of(st.just(0.0), st.just(-0.0), st.just(1.0), st.floats(-1e6, 1e6)),
                                     min_size=40, max_size=40)),
                  min_size=1, max_size=6),
    increasing=st.booleans(),
)  # fmt: skip
def test_stacked_fits_equal_theil_sen_row_by_row_to_the_bit(n: int, rows: list[tuple[list[float], list[float]]],
                                                            increasing: bool) -> None:  # fmt: skip
    """Rows fitted together: each equals ``theil_sen`` of that row alone (a zero's sign included), or is None
    exactly when the row has two equal x or a non-finite value (where ``theil_sen`` drops points or pairs)."""
    xs = np.array([r[0][:n] for r in rows])
    if increasing:
        xs = np.cumsum(np.abs(np.nan_to_num(xs)) + 1.0, axis=1)
    ys = np.array([r[1][:n] for r in rows])
    for x, y, got in zip(xs, ys, slopes.stacked_fits(xs, ys), strict=True):
        plain = np.isfinite(x).all() and np.isfinite(y).all() and len(set(x.tolist())) == n
        assert (got is not None) == plain
        if got is not None:
            assert equal(got, theil_sen(x, y))


def test_stacked_fits_come_in_chunks_of_bounded_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slopes, "STACK_SLOPES", 100)
    rng = np.random.default_rng(3)
    xs, ys = np.cumsum(rng.uniform(0.5, 2, size=(9, 30)), axis=1), rng.normal(size=(9, 30)).round(1)
    assert all(equal(got, theil_sen(x, y)) for x, y, got in zip(xs, ys, slopes.stacked_fits(xs, ys), strict=True)
               if got is not None)  # fmt: skip


@pytest.mark.parametrize("cfg", CONFIGS)
def test_a_batch_fitted_together_judges_as_each_run_alone_on_real_runs(cfg: MonitorConfig, tmp_path: Path) -> None:
    """The real runs grown together, one record each per round, as a daemon batch: after ``Brain.prefit`` every
    live monitor's result equals the one it gives alone (slopes to the bit), and its trajectory fit equals the
    predictor's own, so the prediction is the same."""
    import dataclasses

    from rankinv.daemon.pipeline.brain import Brain

    from rankinv.config import Config
    from rankinv.store import Store

    runs = {**_corpus_rows(), **_ladder_rows(tmp_path)}
    records = {}
    for name, rows in runs.items():
        by_step: dict[int, list[Row]] = {}
        for r in rows:
            by_step.setdefault(r[0], []).append(r)
        records[name] = list(by_step.values())
    alone = {name: LiveMonitor(cfg, *NAMES) for name in runs}
    given = {"entropy": 0, "reward": 0, "pairs": 0}
    with Store.open(tmp_path / "s.sqlite") as store:
        brain = Brain(store, dataclasses.replace(Config(), monitor=cfg))
        for name in runs:
            brain.follow_new(name)
        for round_ in range(max(len(r) for r in records.values())):
            batch = [n for n in runs if round_ < len(records[n])]
            for name in batch:
                brain.stored(name, records[name][round_])
                assert alone[name].feed(records[name][round_])
            brain.prefit(batch)
            for name in batch:
                live = brain.live[name]
                handed = live._given[1] if live._given is not None else {}
                for kind, fit in handed.items():
                    given[kind] += fit[0] is not None
                got, own = live.result(), alone[name].result()
                assert same(got, own)
                for a, b in ((got.log_slope, own.log_slope), (got.reward_slope, own.reward_slope)):
                    assert (a is None and b is None) or (a is not None and b is not None and equal(a, b))
                if "pairs" in handed:
                    assert handed["pairs"][0] is None or got.entropy_reward_fit is handed["pairs"][0]
                assert same(trajectory(got), trajectory(own))
    assert min(given.values()) > 50, given
