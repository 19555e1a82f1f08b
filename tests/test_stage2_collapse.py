"""Stage 2 on real collapsing GRPO runs: the collapse ladder's archived TRL logs (development seeds), and one
hump-ladder deep rung whose groups agreed before RL.

The oracles are independent of the verdict code: each run's pass@10 measured by sampling before and after GRPO
(the noise-aware oracle of ``examples/ladder/noise.py``, plain ``math``), and the trainer's own logged
``reward`` and ``frac_reward_zero_std`` read with ``json`` alone; the start checkpoint's 1 - pass@g comes from
its triage's per-prompt counts by ``math.comb``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from examples.ladder.collect import unpack
from examples.ladder.evidence import load
from examples.ladder.noise import change_sd, outcome
from rankinv.assess import load_features, primary_series, start_report
from rankinv.config import Config, load_config
from rankinv.evaluate import verdict_history
from rankinv.ingest.sources import read_manifest
from rankinv.monitor import Curve
from rankinv.predict import Features
from rankinv.verdict import AGREED, COVERAGE_LOST, COVERAGE_TESTED, PLATEAUED, Decision, start_all_fail

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "examples" / "ladder" / "results"
G = 8


def _ladder(seed: int, where: str) -> Path:
    return unpack(RESULTS / "runs" / f"collapse-seed{seed}.tar.gz", Path(where))


def _run(seed: int, depth: int, tmp: Path) -> tuple[Path, Path, dict[str, object]]:
    out = _ladder(seed, str(tmp))
    table = json.loads((out / "ladder.json").read_text())
    row = next(r for r in table["rows"] if r["depth"] == depth)
    return out / "rl" / f"depth-{depth:04d}", out / "rl" / "rankinv.toml", row


def _history(run: Path, toml: Path) -> list[tuple[int, object]]:
    cfg = load_config(toml)
    triage = load_features(start_report(run))
    return verdict_history(primary_series(run, run.name, cfg), triage, cfg, name=run.name,
                           manifest=read_manifest(run))  # fmt: skip


def _measured(row: dict[str, object]) -> str | None:
    counts = row["features"]["prompt_counts"]  # type: ignore[index]
    sd = change_sd(counts, row["after_counts"])  # type: ignore[arg-type]
    return outcome(float(row["pre_pass10"]), float(row["actual"]), sd)  # type: ignore[arg-type]


def _start_all_fail_by_hand(row: dict[str, object]) -> float:
    counts = row["features"]["prompt_counts"]  # type: ignore[index]
    return sum(math.comb(n - c, G) / math.comb(n, G) for c, n in counts) / len(counts)


def _logged(run: Path, key: str, first: int, last: int) -> list[float]:
    rows = [json.loads(line) for line in (run / "rankinv.jsonl").read_text().splitlines()]
    return [r["logs"][key] for r in rows if first <= r["step"] <= last and key in r["logs"]]


def test_the_start_all_fail_share_is_one_minus_pass_at_g_from_the_counts(tmp_path: Path) -> None:
    run, _, row = _run(0, 640, tmp_path)
    triage = load_features(start_report(run))
    assert start_all_fail(triage, G, Config()) == pytest.approx(_start_all_fail_by_hand(row))
    starved = Features(headroom=0.4, prompt_counts=((0, 16), (1, 16)))
    assert start_all_fail(starved, G, Config()) is None, "below min_headroom: nothing to lose, stage 1's failure"
    assert start_all_fail(Features(headroom=2.0, prompt_counts=((3, 4),)), G, Config()) is None, "n < g"


def test_a_run_that_lost_the_coverage_it_began_with_is_killed_at_its_decision_step(tmp_path: Path) -> None:
    """Seed 0's 640-step rung: pass@10 0.714 -> 0.517 (lost far beyond its noise). By its logs its groups all
    agree from step 12 on and about half of them fail, against 29% of the start's prompts; the entropy rule had
    not held by step 22 (the entropy rose back to 0.5 nats at step 18), so before this rule it was KILLed at 30."""
    run, toml, row = _run(0, 640, tmp_path)
    assert _measured(row) == "lost"
    reward = sum(_logged(run, "reward", 13, 22)) / 10
    zero = sum(_logged(run, "frac_reward_zero_std", 13, 22)) / 10
    all_fail_lo = zero - (reward - (1 - zero) / G)  # every mixed group at its most passing (g - 1 of g)
    assert all_fail_lo > _start_all_fail_by_hand(row) + 0.05
    history = dict(_history(run, toml))
    decision = load_config(toml).monitor.decision_step
    killed = [s for s, v in history.items() if v.decision is Decision.KILL]  # type: ignore[attr-defined]
    assert killed and killed[0] == decision == 22
    assert any(r.metric == COVERAGE_LOST and r.grade == "kill" for r in history[22].reasons)  # type: ignore[attr-defined]


def test_a_reward_gain_bought_with_coverage_is_a_collapse_not_a_plateau(tmp_path: Path) -> None:
    """Seed 1's 640-step rung: pass@10 0.683 -> 0.569 (lost). Its logged reward rose clearly from its opening
    steps (the plateau exception's test) while it lost coverage: at its last step it is KILLed, not WATCHed
    as plateaued (before this rule it ended WATCH: plateaued)."""
    run, toml, row = _run(1, 640, tmp_path)
    assert _measured(row) == "lost"
    opening, recent = _logged(run, "reward", 1, 10), _logged(run, "reward", 51, 60)
    assert sum(recent) / 10 > sum(opening) / 10
    last = _history(run, toml)[-1][1]
    assert last.decision is Decision.KILL  # type: ignore[attr-defined]
    metrics = [r.metric for r in last.reasons]  # type: ignore[attr-defined]
    assert COVERAGE_LOST in metrics and PLATEAUED not in metrics


@pytest.mark.parametrize("depth", [20, 40])
def test_runs_that_kept_their_coverage_are_never_killed(depth: int, tmp_path: Path) -> None:
    """Seed 1's 20- and 40-step rungs ended flat (within their noise), their entropy fell by more than half
    (the paper's rule KILLs both at step 22): no step of either is a KILL."""
    run, toml, row = _run(1, depth, tmp_path)
    assert _measured(row) == "flat"
    assert all(v.decision is not Decision.KILL for _, v in _history(run, toml))  # type: ignore[attr-defined]


def test_stored_collapse_rows_kill_no_run_that_gained() -> None:
    """Every stored collapse-ladder run (dev and held-out): the groups policy never KILLs a run whose pass@10
    rose beyond its noise (the noise-aware oracle from the stored per-prompt counts)."""
    ladders = load(RESULTS, "collapse")
    assert ladders
    for lad in ladders:
        for stored, row in zip(lad.stage2, lad.rows, strict=True):
            if stored["first_kill"]["groups"] is not None:
                assert _measured(row) != "gained", (lad.seed, row["depth"])


def test_the_stored_dev_rows_are_what_the_code_replays(tmp_path: Path) -> None:
    """The stored stage-2 rows of development seed 0 equal a replay of its archive by the code as it is."""
    from examples.ladder.stage2 import ladder_rows

    stored = json.loads((RESULTS / "collapse-seed0.json").read_text())["stage2"]
    replayed = ladder_rows(_ladder(0, str(tmp_path)))
    assert [(r["first_kill"], r["end"]) for r in stored] == [(r.first_kill, r.end) for r in replayed]


def test_the_collapse_setting_is_the_hump_ladder_at_a_larger_rl_learning_rate() -> None:
    """Only the GRPO learning rate (and the task's name) differ, so the two ladders' runs are comparable."""
    import dataclasses

    from examples.ladder.settings import COLLAPSE, HUMP, PRESETS
    from examples.ladder.tasks import task_module

    assert dataclasses.replace(COLLAPSE, rl_learning_rate=HUMP.rl_learning_rate, task="hump") == HUMP
    assert COLLAPSE.rl_learning_rate == 10 * HUMP.rl_learning_rate
    assert PRESETS[("collapse", False)] == COLLAPSE and task_module("collapse") is task_module("hump")


def _ratio_by_hand(counts: list[float], groups: int, b0: float) -> float:
    """The sequential test's mixture likelihood ratio (``rankinv/coverage.py``'s docstring), in plain floats."""
    ps = [b0 + (1 - b0) * (j + 0.5) / 64 for j in range(64)]
    return sum(math.prod((p / b0) ** f * ((1 - p) / (1 - b0)) ** (groups - f) for f in counts) for p in ps) / 64


def test_a_run_failing_every_group_early_is_killed_at_its_decision_step_by_the_sequential_test(
    tmp_path: Path,
) -> None:
    """Seed 22's 40-step rung: pass@10 0.740 -> 0.523 (lost far beyond noise). Its trainer log (json alone) shows
    reward 0 with every group agreeing over steps 2-9, 4 groups a step (32 completions in groups of 8): by
    step 4 the likelihood ratio of those counts against the start's 1 - pass@8 (math.comb) passes 1/alpha = 100.
    The hold-window rules KILLed it at step 32; the test KILLs it at the decision step."""
    run, toml, row = _run(22, 40, tmp_path)
    assert _measured(row) == "lost"
    rewards, zeros = _logged(run, "reward", 1, 9), _logged(run, "frac_reward_zero_std", 1, 9)
    assert rewards[1:] == [0.0] * 8 and zeros[1:] == [1.0] * 8
    groups = 32 // G
    b0 = _start_all_fail_by_hand(row)
    # step 1: the lower bound on all-fail groups for every mixed-group pass rate (README, "Stage 2")
    first = groups * (zeros[0] - min(zeros[0], max(0.0, rewards[0] - (1 - zeros[0]) / G)))
    assert _ratio_by_hand([first, 4, 4], groups, b0) < 100 <= _ratio_by_hand([first, 4, 4, 4], groups, b0)
    history = dict(_history(run, toml))
    killed = [s for s, v in history.items() if v.decision is Decision.KILL]  # type: ignore[attr-defined]
    assert killed and killed[0] == 22
    tested = [r for r in history[22].reasons if r.metric == COVERAGE_TESTED]  # type: ignore[attr-defined]
    assert tested and tested[0].grade == "kill" and tested[0].start_step == 4


def test_a_deep_rung_whose_groups_agreed_before_rl_is_not_killed_for_staying_so(tmp_path: Path) -> None:
    """The hump ladder's seed 12, 640-step rung: pass@10 0.665 -> 0.712 (gained beyond noise). Its start's
    degenerate-group fraction at g=8 (math.comb from the triage's counts) is above 0.75 and the share of its
    logged steps whose groups all agree stays high throughout: it was stuck before RL, and GRPO did not make it
    worse. The code before `stuck from the start` KILLed it at step 50; no step of it is a KILL now."""
    out = unpack(RESULTS / "runs" / "hump-seed12.tar.gz", tmp_path)
    row = next(r for r in json.loads((out / "ladder.json").read_text())["rows"] if r["depth"] == 640)
    assert _measured(row) == "gained"
    counts = row["features"]["prompt_counts"]
    degenerate = sum((math.comb(c, G) + math.comb(n - c, G)) / math.comb(n, G) for c, n in counts) / len(counts)
    assert degenerate > Config().triage.max_degenerate_fraction
    run = out / "rl" / "depth-0640"
    assert sum(_logged(run, "frac_reward_zero_std", 1, 60)) / 60 > 0.8
    history = _history(run, out / "rl" / "rankinv.toml")
    assert all(v.decision is not Decision.KILL for _, v in history)  # type: ignore[attr-defined]
    assert history[-1][1].reasons[0].metric == AGREED  # type: ignore[attr-defined]


@pytest.mark.parametrize(("depth", "groups"), [(40, 0), (80, 4)])
def test_the_daemons_live_monitor_gives_the_same_verdicts_as_explain(depth: int, groups: int, tmp_path: Path) -> None:
    """The sequential test reads every logged step: the daemon's point-by-point monitor and a bare run directory's
    evaluation (``explain``) give the same verdict at every step of the run it KILLs (seed 22's 40-step rung,
    groups a step read from the logs; its 80-step rung with ``groups_per_step = 4`` stated, whole counts)."""
    from rankinv.daemon.pipeline.live import LiveMonitor

    from rankinv.evaluate import evaluate_run
    from rankinv.metrics import ENTROPY, FRAC_REWARD_ZERO_STD, REWARD_MEAN
    from rankinv.monitor import RunSeries

    run, toml, _ = _run(22, depth, tmp_path)
    cfg = load_config(toml)
    cfg = dataclasses.replace(cfg, verdict=dataclasses.replace(cfg.verdict, groups_per_step=groups))
    triage, manifest = load_features(start_report(run)), read_manifest(run)
    series = primary_series(run, run.name, cfg)
    live = LiveMonitor(cfg.monitor, ENTROPY, REWARD_MEAN, FRAC_REWARD_ZERO_STD)
    curves = {ENTROPY: series.entropy, REWARD_MEAN: series.reward, FRAC_REWARD_ZERO_STD: series.zero_std}
    decisions = []
    for step in series.entropy.steps:
        assert live.feed([(step, name, c.values[c.steps.index(step)], None) for name, c in curves.items()
                          if step in c.steps])  # fmt: skip
        prefix = RunSeries(*(Curve(c.steps[: c.steps.index(step) + 1], c.values[: c.steps.index(step) + 1])
                             for c in (series.entropy, series.reward, series.zero_std)))  # fmt: skip
        daemon = evaluate_run(prefix, triage, cfg, name=run.name, manifest=manifest, analysed=live.result())
        bare = evaluate_run(prefix, triage, cfg, name=run.name, manifest=manifest)
        assert daemon.verdict == bare.verdict, step
        decisions.append(bare.verdict.decision)
    assert Decision.KILL in decisions
    if groups:  # whole counts reject it by the decision step (the bound alone: KILLed at step 30)
        assert series.entropy.steps[decisions.index(Decision.KILL)] == 22
