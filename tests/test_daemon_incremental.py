"""The daemon's live monitor equals the full recomputation, and judging a run costs its new points.

Oracle: ``rankinv.monitor.analyse`` over the series the store returns (the path the daemon took before it kept
monitors live), on the real TRL runs of ``tests/data/reallogs`` grown record by record, and on generated series
(NaN, zeros, plateaus, gaps) fed in random pieces. Cost is counted (points handled in Python per tick), never
timed.
"""

from __future__ import annotations

import dataclasses
import math
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rankinv.daemon.pipeline.brain import Brain
from rankinv.daemon.pipeline.health import Health
from rankinv.daemon.pipeline.live import LiveMonitor
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.pipeline.triage import TriageStage

from rankinv.config import Config, MonitorConfig
from rankinv.evaluate import evaluate_run
from rankinv.ingest import START, Source
from rankinv.metrics import FRAC_REWARD_ZERO_STD, REWARD_MEAN
from rankinv.monitor import Curve, RunSeries, analyse
from rankinv.store import Store
from tests.support.pipeline import NoWatch

CORPUS = Path(__file__).parent / "data" / "reallogs"
GRPO_CASES = sorted(p.name for p in CORPUS.iterdir() if p.name.startswith(("grpo", "heldout-grpo")))
NAMES = ("entropy", REWARD_MEAN, FRAC_REWARD_ZERO_STD)
CONFIGS = [MonitorConfig(), MonitorConfig(baseline_step=2, decision_step=8, slope_window=6, signal_window=3),
           MonitorConfig(baseline_step=0, entropy_floor=0.5, signal_window=1, slope_window=2)]  # fmt: skip
Row = tuple[int, str, float, float | None]


def same(a: Any, b: Any) -> bool:
    """Equality that counts NaN as equal to NaN (field by field, through tuples and dataclasses)."""
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a) if f.compare)  # fmt: skip
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)


def rows_of(case: str) -> list[Row]:
    points, _ = Source(CORPUS / case / "rankinv.jsonl", "jsonl").open(case).read_new(START)
    return [(p.step, p.name, p.value, p.time) for p in points]


def series_of(rows: list[Row]) -> RunSeries:
    return RunSeries(*(Curve.of([r[0] for r in rows if r[1] == n], [r[2] for r in rows if r[1] == n]) for n in NAMES))


def stored_series(store: Store, run: str) -> RunSeries:
    got = store.series(run, NAMES)
    return RunSeries(*(Curve.of(got[n].steps, got[n].values) if n in got else Curve() for n in NAMES))


@pytest.mark.parametrize("case", GRPO_CASES)
@pytest.mark.parametrize("cfg", CONFIGS)
def test_live_monitor_equals_analyse_of_the_store_on_real_runs(case: str, cfg: MonitorConfig,
                                                               tmp_path: Path) -> None:  # fmt: skip
    rows = rows_of(case)
    assert any(r[1] == "entropy" for r in rows)
    with Store.open(tmp_path / "s.sqlite") as store:
        store.upsert_run(case, str(tmp_path))
        live = LiveMonitor(cfg, *NAMES)
        by_step: dict[int, list[Row]] = {}
        for r in rows:
            by_step.setdefault(r[0], []).append(r)
        for record in by_step.values():  # one logged record at a time, as the daemon sees a live run
            store.add_metrics(case, record)
            assert live.feed(record)
            assert same(live.result(), analyse(stored_series(store, case), cfg))


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.floats(-0.5, 3.0), st.just(0.0), st.just(1.0), st.just(math.nan)),
                    min_size=0, max_size=90),
    rewards=st.lists(st.one_of(st.floats(0.0, 2.0), st.just(math.nan), st.none()), max_size=90),
    gaps=st.lists(st.integers(1, 7), min_size=90, max_size=90),
    seed=st.integers(0, 10_000),
    cfg=st.sampled_from(CONFIGS),
)  # fmt: skip
def test_live_monitor_equals_analyse_on_generated_series(
    values: list[float], rewards: list[float | None], gaps: list[int], seed: int, cfg: MonitorConfig
) -> None:
    steps = [sum(gaps[: i + 1]) for i in range(90)]
    rows: list[Row] = [(steps[i], "entropy", v, None) for i, v in enumerate(values)]
    rows += [(steps[i], REWARD_MEAN, r, None) for i, r in enumerate(rewards) if r is not None]  # None: unpaired
    rows += [(steps[i], FRAC_REWARD_ZERO_STD, min(1.0, abs(r)), None) for i, r in enumerate(rewards[::2])
             if r is not None]  # fmt: skip
    rows.sort(key=lambda r: r[0])
    rng, live, fed = random.Random(seed), LiveMonitor(cfg, *NAMES), 0
    while fed < len(rows):
        piece = rows[fed : fed + rng.randint(1, 9)]
        assert live.feed(piece)
        fed += len(piece)
        series = series_of(rows[:fed])
        assert same(live.result(), analyse(series, cfg))
        assert same(live.series(), series)


def _record(step: int) -> list[Row]:
    return [(step, "entropy", 1.2 * math.exp(-step / 300), None), (step, REWARD_MEAN, 0.3 + (step % 7) / 50, None),
            (step, FRAC_REWARD_ZERO_STD, 0.4, None)]  # fmt: skip


def _touched_by_one_tick(history: int) -> int:
    live = LiveMonitor(MonitorConfig(), *NAMES)
    live.feed([r for s in range(1, history + 1) for r in _record(s)])
    live.result()
    before = live.touched
    live.feed(_record(history + 1))
    live.result()
    return live.touched - before


def test_one_new_record_costs_the_same_after_200_or_20000_steps_of_history() -> None:
    short, long = _touched_by_one_tick(200), _touched_by_one_tick(20_000)
    cfg = MonitorConfig()
    # new points, tails, the slope windows, and the signal windows: the reward level, its opening and the
    # reward gain's two windows (opening and recent) read again
    bound = 3 + 10 + 2 * (cfg.slope_window + 1) + 4 * (cfg.signal_window + 1)
    assert long <= bound and short <= bound
    assert abs(long - short) <= 2  # the same windows (a floor scan may stop one point apart)


def test_a_step_that_does_not_extend_its_series_asks_for_a_rebuild() -> None:
    live = LiveMonitor(MonitorConfig(), *NAMES)
    assert live.feed(_record(1) + _record(2) + _record(3))
    assert not live.feed(_record(2))  # a resume from an earlier checkpoint logs step 2 again
    live = LiveMonitor(MonitorConfig(), *NAMES)
    assert not live.feed([(5, "entropy", math.nan, None), (5, "entropy", 1.0, None)])  # a NaN later replaced


def test_steps_beyond_float_precision_fall_back_to_the_full_analysis() -> None:
    big = 2**60
    rows = [r for s in range(5) for r in _record(big + 4096 * s)]  # representable: no rounding inside analyse
    cfg = MonitorConfig(baseline_step=0, signal_window=1024)
    live = LiveMonitor(cfg, *NAMES)
    assert live.feed(rows)
    assert same(live.result(), analyse(series_of(rows), cfg))


def test_the_daemons_verdicts_on_a_growing_real_run_equal_a_fresh_evaluation(tmp_path: Path) -> None:
    """The real collapsing TRL run written record by record under a runs root: after every batch the stored
    monitor, prediction and verdict equal ``evaluate_run`` over the whole series read back from the store."""
    case = "heldout-grpo-collapse"
    root, run = tmp_path / "root", tmp_path / "root" / case
    run.mkdir(parents=True)
    shutil.copy(CORPUS / case / "rankinv-run.json", run) if (CORPUS / case / "rankinv-run.json").exists() else (
        run / "rankinv-run.json").write_text('{"kind": "GRPO"}')  # fmt: skip
    lines = (CORPUS / case / "rankinv.jsonl").read_text().splitlines(keepends=True)
    cfg = Config()
    cfg = dataclasses.replace(cfg, daemon=dataclasses.replace(cfg.daemon, evaluate_seconds=0.0,
                                                              triage_executor="callback"),
                              monitor=CONFIGS[1])  # fmt: skip
    with Store.open(tmp_path / "s.sqlite") as store:
        pipeline = Pipeline(root, cfg, store, triage=TriageStage(store, cfg, tmp_path / "state", None),
                            health=Health(store, 60.0), dirs=NoWatch(), actions=None)  # fmt: skip
        log = run / "rankinv.jsonl"
        log.write_text("")
        pipeline.handle(set(), rescan=True)
        checked = 0
        for line in lines:
            with log.open("a") as f:
                f.write(line)
            pipeline.handle({str(log)})
            record = store.run(case)
            if record is None or not store.has_metrics(case):
                continue
            fresh = evaluate_run(Brain(store, cfg).series(case), None, cfg, name=case, manifest=record.manifest)
            verdict = store.latest_verdict(case)
            assert verdict is not None and fresh.monitor is not None
            assert (verdict.decision, verdict.step) == (fresh.verdict.decision.value, fresh.verdict.step)
            assert verdict.reasons == fresh.verdict.reasons
            assert case in pipeline.brain.live  # judged from the live monitor, not rebuilt each time
            assert same(pipeline.brain.live[case].result(), dataclasses.replace(fresh.monitor,
                                                                               zero_std_expected=math.nan))
            checked += 1
        assert checked >= len(lines) - 1


class CountingTuple(tuple):  # type: ignore[type-arg]
    """A tuple that counts the elements read from it (by index, slice or iteration)."""

    reads = 0

    def __getitem__(self, i: Any) -> Any:
        got = super().__getitem__(i)
        CountingTuple.reads += len(got) if isinstance(i, slice) else 1
        return got

    def __iter__(self) -> Any:
        for x in super().__iter__():
            CountingTuple.reads += 1
            yield x


def _collapsing(steps: int) -> Any:
    curves = RunSeries(Curve(tuple(range(1, steps + 1)), tuple(2.0 * math.exp(-s / 50) for s in range(1, steps + 1))),
                       Curve(tuple(range(1, steps + 1)), (0.05,) * steps),
                       Curve(tuple(range(1, steps + 1)), (0.9,) * steps))  # fmt: skip
    m = analyse(curves, MonitorConfig())
    return dataclasses.replace(m, **{f: CountingTuple(getattr(m, f)) for f in
                                     ("drops", "zero_std_rolling", "reward_rolling", "entropy_reward")})  # fmt: skip


@pytest.mark.parametrize("steps", [300, 30_000])
def test_the_verdict_reads_only_its_hold_window(steps: int) -> None:
    from rankinv.verdict import decide

    m = _collapsing(steps)
    CountingTuple.reads = 0
    verdict = decide(m, None, None, Config(), group_size=8)
    assert verdict.decision.value == "KILL"  # every hold check ran: entropy drop and the stuck groups
    assert {r.metric for r in verdict.reasons} >= {"entropy drop", "all-fail group share"}
    assert CountingTuple.reads <= 200  # log2 of the history for each bisection, plus the 20-step windows


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.floats(0, 1)), min_size=1, max_size=60), st.integers(0, 30),
       st.integers(1, 8))  # fmt: skip
def test_held_equals_the_whole_series_filter(
    points: list[tuple[int, float]], hold_steps: int, hold_points: int
) -> None:
    from rankinv.verdict import held

    series, step = [], 0
    for gap, v in points:
        step += gap
        series.append((step, v))
    window = [p for p in series if p[0] >= series[-1][0] - hold_steps]  # the rule as written before
    if len(window) < hold_points:
        window = series[-hold_points:]
    expected = (all(v > 0.5 for _, v in window), window[0][0]) if len(series) >= hold_points else (False, None)
    assert held(series, lambda v: v > 0.5, hold_steps, hold_points) == expected


def test_the_history_reads_every_runs_peak_eval_in_one_query_as_outcome_reads_each(tmp_path: Path) -> None:
    from rankinv.daemon.pipeline.history import History

    logged = {"a": [("eval/pass@10", 1, 0.2), ("eval/pass@10", 2, 0.5), ("eval/pass@10", 3, math.nan)],
              "b": [("eval/code/pass@10", 4, 0.7), ("eval/pass@100", 4, 0.99), ("eval/pass@10", 5, math.inf)],
              "c": [("train/pass@10", 1, 0.9), ("eval/pass@1", 1, 0.4)], "d": [("eval/pass@10", 1, -math.inf)],
              "e": [("eval/pass@10", 7, 0.3), ("Eval/pass@10", 7, 0.8), ("eval/PASS@10", 7, 0.9)]}  # fmt: skip
    with Store.open(tmp_path / "s.sqlite") as store:
        for run, points in logged.items():
            store.upsert_run(run, str(tmp_path / run))
            store.add_metrics(run, [(step, name, value, None) for name, step, value in points])
        history = History(store, Config(), lambda r: RunSeries(), lambda c: None)
        expected = {run: y for run in logged if math.isfinite(y := history.outcome(run))}
        assert expected == {"a": 0.5, "b": 0.7, "e": 0.3}  # the rule as outcome() reads it, run by run
        assert store.peaks("eval/", "pass@10") == expected


def test_live_monitors_stay_within_their_point_budget_and_rebuild_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rankinv.daemon.pipeline.brain as B

    monkeypatch.setattr(B, "LIVE_POINTS", 100)
    with Store.open(tmp_path / "s.sqlite") as store:
        brain = Brain(store, Config())
        for run in ("a", "b", "c"):
            store.upsert_run(run, str(tmp_path / run))
            store.add_metrics(run, [r for s in range(1, 16) for r in _record(s)])  # 45 points each
        first = {run: brain.monitor_of(run).result() for run in ("a", "b", "c")}
        assert brain.live_points == sum(m.points for m in brain.live.values()) <= 100
        assert list(brain.live) == ["b", "c"]  # the least recently judged went first
        rows = _record(16)
        store.add_metrics("c", rows)
        brain.stored("c", rows)
        assert brain.live_points == sum(m.points for m in brain.live.values())
        assert same(brain.monitor_of("a").result(), first["a"])  # rebuilt from the store
        assert same(brain.monitor_of("c").result(), analyse(stored_series(store, "c"), Config().monitor))
