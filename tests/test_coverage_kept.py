"""The sequential coverage test kept step by step (``rankinv.coverage_kept``) against the batch test.

Oracles: ``coverage_test`` over the same points (to the bit, ``==`` on every field), on the real TRL logs of the
collapse and hump ladders and ``tests/data/reallogs`` at every prefix, and on generated signals whose shares
change the groups per step midway; the mixture likelihood ratio in plain floats (``math.prod``, within 1e-9
relative); ``groups_per_step``; the daemon's stored verdicts against ``evaluate_run`` over the run's log read
from its directory. Cost is counted (steps computed), never timed.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rankinv.daemon.pipeline.brain import Brain
from rankinv.daemon.pipeline.live import LiveMonitor

from examples.ladder.collect import unpack
from rankinv.assess import load_features, primary_series, start_report
from rankinv.config import Config, MonitorConfig, load_config
from rankinv.coverage import coverage_test, groups_per_step
from rankinv.coverage_kept import KeptSignal
from rankinv.evaluate import evaluate_run
from rankinv.ingest.sources import read_manifest
from rankinv.metrics import FRAC_REWARD_ZERO_STD, REWARD_MEAN
from rankinv.monitor import RunSeries, step_signal
from rankinv.predict import Features
from rankinv.store import Store
from rankinv.verdict import COVERAGE_TESTED, Decision
from tests.support.brain_replay import replay
from tests.test_coverage import _points, _ratio_by_hand
from tests.test_daemon_incremental import GRPO_CASES, NAMES, Row, rows_of, series_of

RUNS = Path(__file__).resolve().parents[1] / "examples" / "ladder" / "results" / "runs"
Signal = tuple[int, float, float]
G = 8


def _grown(signal: list[Signal], starts: list[float], rng: random.Random, group_size: int = G,
           ceiling: float = 1.0, *, stated: tuple[int | None, ...] = (None,)) -> int:  # fmt: skip
    """Append ``signal`` in pieces of random size; after each, the kept test equals the batch test over the
    prefix, at every start and stated groups per step. Returns how many prefixes were compared."""
    kept, fed, compared = KeptSignal(), 0, 0
    while fed < len(signal):
        for point in signal[fed : fed + rng.randint(1, 4)]:
            kept.append(*point)
            fed += 1
        for start in starts:
            for g in stated:
                batch = coverage_test(signal[:fed], start, group_size, ceiling, 0.01, stated=g)
                assert kept.test(start, group_size, ceiling, 0.01, stated=g) == batch, (fed, start, g)
        compared += 1
    return compared


def _ladder_signals(tmp: Path) -> list[tuple[list[Signal], float]]:
    """Every rung's per-step signal of two collapse ladders and a hump ladder, with its start's 1 - pass@8."""
    from rankinv.verdict import start_all_fail

    out = []
    for name in ("collapse-seed0", "collapse-seed22", "hump-seed12"):
        root = unpack(RUNS / f"{name}.tar.gz", tmp / name)
        cfg = load_config(root / "rl" / "rankinv.toml")
        for run in sorted((root / "rl").glob("depth-*")):
            start = start_all_fail(load_features(start_report(run)), G, cfg)
            out.append((list(step_signal(primary_series(run, run.name, cfg))), start or 0.3))
    return out


def test_the_kept_test_equals_the_batch_test_at_every_prefix_of_real_ladder_logs(tmp_path: Path) -> None:
    rng, compared, whole = random.Random(5), 0, 0
    signals = _ladder_signals(tmp_path)
    assert len(signals) >= 20 and sum(len(s) for s, _ in signals) > 500
    rejected = 0
    for signal, start in signals:
        compared += _grown(signal, [start, 0.05, 0.6], rng, stated=(None, 4, 8))  # the ladder states 4
        for g in (None, 4):
            test = coverage_test(signal, start, G, 1.0, 0.01, stated=g)
            rejected += test is not None and test.rejected_at is not None
            whole += g is not None and test is not None and test.per_step == g
    assert compared > 200 and rejected >= 2 and whole >= 20  # the rejecting runs are among them (seed 22's short
    # rungs), and the stated count is taken (whole counts) on most rungs


@pytest.mark.parametrize("case", GRPO_CASES)
def test_the_kept_test_equals_the_batch_test_on_the_real_log_corpus(case: str) -> None:
    signal = list(step_signal(series_of(rows_of(case))))
    assert signal
    _grown(signal, [0.02, 0.2, 0.5, 0.9], random.Random(case), group_size=4, ceiling=2.0)


@settings(max_examples=120, deadline=None)
@given(
    denominators=st.lists(st.sampled_from([1, 2, 3, 4, 8, 12, 64, 5000]), min_size=1, max_size=60),
    numerators=st.lists(st.integers(0, 5000), min_size=60, max_size=60),
    rewards=st.lists(st.one_of(st.floats(-0.2, 1.2), st.just(math.nan), st.just(0.0)), min_size=60, max_size=60),
    junk=st.lists(st.one_of(st.none(), st.just(math.nan), st.just(0.123456789)), min_size=60, max_size=60),
    seed=st.integers(0, 10_000),
    stated=st.sampled_from([None, 4, 12, 64]),
)  # fmt: skip
def test_the_kept_test_equals_the_batch_test_when_the_groups_per_step_change(
    denominators: list[int], numerators: list[int], rewards: list[float], junk: list[float | None], seed: int, *,
    stated: int | None,
) -> None:
    """Shares whose denominators grow midway (G changes, so every past count changes), shares that are no whole
    count (G falls to 1), NaN values (dropped) and steps with gaps."""
    signal: list[Signal] = []
    step = 0
    for i, d in enumerate(denominators):
        step += 1 + i % 3
        share = junk[i] if junk[i] is not None else min(numerators[i], d) / d
        signal.append((step, rewards[i], share))
    _grown(signal, [0.1, 0.45], random.Random(seed), stated=(stated,))
    finite = [z for _, r, z in signal if math.isfinite(r) and math.isfinite(z)]
    kept = KeptSignal()
    for point in signal:
        kept.append(*point)
    assert kept.per_step == groups_per_step(finite)


def test_the_kept_test_is_the_mixture_likelihood_ratio_in_plain_floats() -> None:
    """The brute-force reference: at every prefix, ratio, peak and first rejection of the mixture over the prior's
    midpoints computed product by product (relative tolerance 1e-9), and the counts exactly."""
    rng = random.Random(11)
    counts = [rng.choice([0, 1, 2, 2, 3, 4, 4]) for _ in range(40)]
    points = _points(counts, 4)
    logged = [0, *counts]  # the first step's bound is 0 of its 4 groups
    kept = KeptSignal()
    for n, point in enumerate(points):
        kept.append(*point)
        test = kept.test(0.3, G, 1.0, 0.01)
        assert test is not None and test.per_step == 4 and test.groups == 4 * (n + 1)
        assert test.all_fail == sum(logged[: n + 1])
        ratios = [_ratio_by_hand(logged[: i + 1], 4, 0.3) for i in range(n + 1)]
        assert test.ratio == pytest.approx(ratios[-1], rel=1e-9)
        assert test.peak == pytest.approx(max(ratios), rel=1e-9)
        assert test.rejected_at == next((i for i, r in enumerate(ratios) if r >= 100), None)
    assert kept.test(0.3, G, 1.0, 0.01).rejected_at is not None  # type: ignore[union-attr]


@given(st.lists(st.one_of(st.fractions(min_value=-1, max_value=2, max_denominator=600),
                          st.floats(-1, 2)), min_size=1, max_size=30))  # fmt: skip
def test_the_kept_groups_per_step_is_groups_per_step(shares: list[Fraction | float]) -> None:
    values = [float(s) for s in shares]
    kept = KeptSignal()
    for i, z in enumerate(values):
        kept.append(i, 0.5, z)
        assert kept.per_step == groups_per_step(values[: i + 1])


def test_a_view_taken_before_more_steps_keeps_its_own_points() -> None:
    kept = KeptSignal()
    for point in _points([4, 4, 4], 4):
        kept.append(*point)
    view = kept.view()
    before = coverage_test(view, 0.3, G, 1.0, 0.01)
    kept.append(9, 0.0, 1.0)
    assert len(view) == 4 and list(view) == _points([4, 4, 4], 4) and view[-1] == (3, 0.0, 1.0)
    assert coverage_test(view, 0.3, G, 1.0, 0.01) == before == coverage_test(_points([4, 4, 4], 4), 0.3, G, 1.0, 0.01)


@settings(max_examples=80, deadline=None)
@given(
    present=st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=50),
    order=st.lists(st.integers(0, 2), max_size=200),
    seed=st.integers(0, 1000),
)
def test_the_live_monitors_signal_is_the_step_signal_of_its_series(
    present: list[tuple[bool, bool, bool]], order: list[int], seed: int
) -> None:
    """Each metric's points in step order, the three metrics interleaved any way (a zero-std share logged
    before or after its step's reward, or steps ahead): the live signal equals ``step_signal`` of the series."""
    rng = random.Random(seed)
    queues: list[list[Row]] = [[], [], []]
    for step, flags in enumerate(present, start=1):
        for k, on in enumerate(flags):
            if on:
                value = math.nan if rng.random() < 0.1 else rng.choice([0.0, 0.25, 0.5, 1.0])
                queues[k].append((step, NAMES[k], value, None))
    rows: list[Row] = []
    picks = iter(order)
    while any(queues):
        k = next(picks, 0)
        k = k if queues[k] else next(i for i in range(3) if queues[i])
        rows.append(queues[k].pop(0))
    live = LiveMonitor(MonitorConfig(), *NAMES)
    fed = 0
    while fed < len(rows):
        piece = rows[fed : fed + rng.randint(1, 5)]
        assert live.feed(piece)
        fed += len(piece)
        assert tuple(live.result().step_signal) == step_signal(series_of(rows[:fed]))


TRIAGED = Features(name="start", group_size=G, headroom=2.0, prompt_counts=((3, 16), (9, 16), (14, 16), (1, 16)))


def _record(step: int) -> list[Row]:
    return [(step, "entropy", 1.2 * math.exp(-step / 300), None), (step, REWARD_MEAN, 0.3 + (step % 7) / 50, None),
            (step, FRAC_REWARD_ZERO_STD, (step % 5) / 4, None)]  # fmt: skip


def _steps_computed_by_one_judgement(history: int) -> tuple[int, int]:
    """(steps the coverage test computed, live monitor points handled) for the judgement after one new record,
    judged as the daemon judges: ``evaluate_run`` on the live monitor's result, no series read."""
    cfg = Config()
    live = LiveMonitor(cfg.monitor, *NAMES)
    live.feed([r for s in range(1, history + 1) for r in _record(s)])
    first = evaluate_run(RunSeries(), TRIAGED, cfg, name="r", analysed=live.result())
    assert live.signal.touched == history and first.monitor is not None and len(first.monitor.step_signal) == history
    signal, points = live.signal.touched, live.touched
    live.feed(_record(history + 1))
    evaluate_run(RunSeries(), TRIAGED, cfg, name="r", analysed=live.result())
    return live.signal.touched - signal, live.touched - points


def test_one_new_record_computes_one_step_of_the_test_after_200_or_20000_steps() -> None:
    short, long = _steps_computed_by_one_judgement(200), _steps_computed_by_one_judgement(20_000)
    assert short[0] == long[0] == 1
    assert abs(short[1] - long[1]) <= 2  # the live monitor's own windows, the same at either length


def test_the_daemon_judges_a_triaged_run_with_the_sequential_test_as_explain_does(tmp_path: Path) -> None:
    """Seed 22's 40-step rung, its start's triage report stored for its parent checkpoint, written record by
    record through the daemon's brain: at every step the stored verdict is ``evaluate_run`` over the log read
    from the run directory (what ``explain`` shows), and the sequential test's KILL comes at step 22 in both."""
    root = unpack(RUNS / "collapse-seed22.tar.gz", tmp_path)
    run = root / "rl" / "depth-0040"
    cfg = load_config(root / "rl" / "rankinv.toml")
    report_path = start_report(run)
    assert report_path is not None
    triage, manifest, series = load_features(report_path), read_manifest(run), primary_series(run, run.name, cfg)
    with Store.open(tmp_path / "s.sqlite") as store:
        brain = Brain(store, cfg)
        kills = []
        for judged in replay(store, brain, run, series, cfg=cfg, manifest=manifest, checkpoint_step=40):
            step, outcome, prefix = judged.step, judged.outcome, judged.prefix
            bare = evaluate_run(prefix, triage, cfg, name=run.name, manifest=manifest).verdict
            assert outcome.verdict == bare, step
            stored = store.latest_verdict(run.name)
            assert stored is not None and stored.reasons == bare.reasons
            if bare.decision is Decision.KILL:
                kills.append((step, [r for r in bare.reasons if r.metric == COVERAGE_TESTED]))
        # each step computed once, and every step so far again where a new share changed the groups per step
        shares = [z for _, _, z in step_signal(series)]
        per_step = [groups_per_step(shares[: n + 1]) for n in range(len(shares))]
        again = [n + 1 for n in range(1, len(shares)) if per_step[n] != per_step[n - 1]]
        assert again and brain.live[run.name].signal.touched == len(shares) + sum(again) - len(again)
    assert kills and kills[0][0] == 22 and kills[0][1] and kills[0][1][0].grade == "kill"
