"""The sequential coverage test: its likelihood ratio against a hand computation, its error rate under the null
by simulation, and the groups per step it reads from real TRL logs against the ladder's own batch settings."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from examples.ladder.collect import unpack
from rankinv.coverage import MAX_GROUPS, PRIOR_POINTS, coverage_test, groups_per_step, share_groups

RESULTS = Path(__file__).resolve().parents[1] / "examples" / "ladder" / "results"
G = 8


def _ratio_by_hand(counts: list[int], groups: int, b0: float) -> float:
    """mean over the prior's midpoints p_j of prod (p_j/b0)^F ((1-p_j)/(1-b0))^(groups-F), in plain floats."""
    total = 0.0
    for j in range(PRIOR_POINTS):
        p = b0 + (1 - b0) * (j + 0.5) / PRIOR_POINTS
        total += math.prod((p / b0) ** f * ((1 - p) / (1 - b0)) ** (groups - f) for f in counts)
    return total / PRIOR_POINTS


def _points(counts: list[int], groups: int) -> list[tuple[int, float, float]]:
    """A first step with one all-pass group and three mixed ones holding every other completion's pass (which
    shows the logs' G; its all-fail bound is 0), then steps whose groups all agree, ``f`` of ``groups``
    failing: reward (groups - f)/groups, and the split's all-fail bound is exact."""
    return [(0, 0.5, 1 / groups), *((step, (groups - f) / groups, 1.0) for step, f in enumerate(counts, start=1))]


def test_the_ratio_is_the_mixture_likelihood_ratio_of_the_counts() -> None:
    counts = [1, 3, 4, 2, 4, 4]
    test = coverage_test(_points(counts, 4), 0.3, G, 1.0, 0.01)
    assert test is not None and test.per_step == 4 and test.groups == 28
    assert test.all_fail == pytest.approx(sum(counts))
    logged = [0, *counts]  # the first step's bound is 0 of its 4 groups
    assert test.ratio == pytest.approx(_ratio_by_hand(logged, 4, 0.3), rel=1e-9)
    peak = max(_ratio_by_hand(logged[: n + 1], 4, 0.3) for n in range(len(logged)))
    assert test.peak == pytest.approx(peak, rel=1e-9)
    first = next(n for n in range(len(logged)) if _ratio_by_hand(logged[: n + 1], 4, 0.3) >= 100)
    assert test.rejected_at == first


def test_a_run_that_keeps_its_coverage_is_rejected_at_most_alpha_of_the_time() -> None:
    """Ville's inequality, by simulation: 4000 runs of 60 steps, 4 groups a step, each group all failing with
    the start's chance 0.3 (fixed seed, so the count is deterministic)."""
    rng = random.Random(7)
    rejected = 0
    for _ in range(4000):
        counts = [sum(rng.random() < 0.3 for _ in range(4)) for _ in range(60)]
        test = coverage_test(_points(counts, 4), 0.3, G, 1.0, 0.01)
        rejected += test is not None and test.rejected_at is not None
    assert rejected / 4000 <= 0.01


def test_a_run_that_lost_coverage_is_rejected_within_a_few_steps() -> None:
    counts = [4, 3, 4, 4, 3, 4]  # 22 of 24 groups all fail, against 30% at the start
    test = coverage_test(_points(counts, 4), 0.3, G, 1.0, 0.01)
    assert test is not None and test.rejected_at is not None and test.rejected_at <= 4


def test_groups_per_step_is_the_smallest_whole_count() -> None:
    assert groups_per_step([0.25, 0.5, 1.0]) == 4
    assert groups_per_step([1.0, 0.0]) == 1, "shares that fit one group say only that"
    assert groups_per_step([1 / 3, 0.5]) == 6
    assert groups_per_step([float(np.float32(5 / 7)), 0.5]) == 14, "read at float32 precision, as TRL logs"
    assert groups_per_step([0.1234567, 0.7654321, 0.3141592]) == 1, "no common whole count: the weakest reading"


def test_the_groups_per_step_of_a_real_trl_log_is_its_batch_over_its_group_size(tmp_path: Path) -> None:
    """The collapse ladder's TRL logs (json alone) against the ladder's settings: rl_batch_size completions a
    step in groups of group_size (32 / 8 = 4 prompts a step)."""
    out = unpack(RESULTS / "runs" / "collapse-seed0.tar.gz", tmp_path)
    settings = json.loads((out / "ladder.json").read_text())["settings"]
    expected = settings["rl_batch_size"] // settings["group_size"]
    for run in sorted((out / "rl").glob("depth-*")):
        logs = [json.loads(line)["logs"] for line in (run / "rankinv.jsonl").read_text().splitlines()]
        shares = [e["frac_reward_zero_std"] for e in logs if "frac_reward_zero_std" in e]
        assert expected % groups_per_step(shares) == 0, run.name  # a divisor of the true count: never more
    deep = out / "rl" / "depth-0640"
    logs = [json.loads(line)["logs"] for line in (deep / "rankinv.jsonl").read_text().splitlines()]
    assert groups_per_step([e["frac_reward_zero_std"] for e in logs if "frac_reward_zero_std" in e]) == expected
    # the ladder states that count in the rankinv.toml it writes, for the test's whole counts
    from examples.ladder.settings import COLLAPSE, rankinv_toml
    from rankinv.config import parse_config

    assert parse_config(rankinv_toml(COLLAPSE, "p.jsonl", "m:f"), "rankinv.toml").verdict.groups_per_step == expected


def test_no_test_without_a_start_strictly_between_0_and_1() -> None:
    points = _points([4, 4], 4)
    assert coverage_test(points, 0.0, G, 1.0, 0.01) is None
    assert coverage_test(points, 1.0, G, 1.0, 0.01) is None
    assert coverage_test([], 0.3, G, 1.0, 0.01) is None


def test_the_per_step_counts_are_the_split_bound_times_the_groups() -> None:
    """The test's vectorised all-fail bound equals ``rankinv.groups``' (one point at a time) on a grid of logged
    reward means and zero-std shares, at a ceiling of 1 and 2."""
    from rankinv.coverage import all_fail_counts
    from rankinv.groups import split

    for ceiling in (1.0, 2.0):
        rewards = np.array([ceiling * k / 32 for k in range(33)] * 5)
        zeros = np.repeat([0.0, 0.25, 0.5, 0.75, 1.0], 33)
        counts = all_fail_counts(rewards, zeros, 4, G, ceiling)
        for r, z, c in zip(rewards, zeros, counts, strict=True):
            s = split(float(r), float(z), G, ceiling)
            assert s is not None and c == pytest.approx(4 * s.all_fail_lo, abs=1e-12)


def _every_step(groups: int, g: int) -> dict[tuple[int, int], int]:
    """Every way ``groups`` groups of ``g`` 0/1 completions can come out, by brute force: for each logged
    (passes, degenerate groups), the fewest groups that all failed among the outcomes that log it."""
    from itertools import combinations_with_replacement

    fewest: dict[tuple[int, int], int] = {}
    for ks in combinations_with_replacement(range(g + 1), groups):
        key = (sum(ks), sum(k in (0, g) for k in ks))
        fewest[key] = min(fewest.get(key, groups), sum(k == 0 for k in ks))
    return fewest


def test_whole_counts_are_the_fewest_all_fail_groups_any_outcome_logging_them_has() -> None:
    """With the groups a step stated, the rounded count equals a brute-force enumeration of every outcome of 4
    groups of 8 (and of 3 groups of 4): never more all-fail groups than some outcome with the same log has
    (valid), and no fewer (it uses what the log says); the bound alone stays at or below it."""
    from rankinv.coverage import all_fail_counts

    for groups, g in ((4, 8), (3, 4)):
        fewest = _every_step(groups, g)
        keys = sorted(fewest)
        rewards = np.array([float(np.float32(p / (groups * g))) for p, _ in keys])  # TRL logs float32 means
        zeros = np.array([float(np.float32(z / groups)) for _, z in keys])
        whole = all_fail_counts(rewards, zeros, groups, g, 1.0, whole=True)
        bound = all_fail_counts(rewards, zeros, groups, g, 1.0)
        for key, w, b in zip(keys, whole, bound, strict=True):
            assert w == fewest[key], (groups, g, key)
            assert b <= w + 1e-6  # the bound from float32 shares, within their rounding
        assert (whole > bound + 1e-9).any(), "rounding must count more than the bound somewhere"


def test_a_stated_group_count_the_logs_contradict_is_not_used() -> None:
    """Shares of 1/3 are no whole count of 4 groups: the stated 4 is ignored and G read from the logs (6 here);
    a stated count the logs fit is used."""
    points = [(1, 0.5, 1 / 3), (2, 0.0, 1.0), (3, 0.0, 1.0)]
    assert (t := coverage_test(points, 0.3, G, 1.0, 0.01, stated=4)) is not None and t.per_step == 3
    fitting = [(1, 0.5, 0.25), (2, 0.0, 1.0)]
    assert (t := coverage_test(fitting, 0.3, G, 1.0, 0.01)) is not None and t.per_step == 4
    assert (t := coverage_test(fitting, 0.3, G, 1.0, 0.01, stated=8)) is not None and t.per_step == 8


def test_with_whole_counts_a_run_that_keeps_its_coverage_is_rejected_at_most_alpha_of_the_time() -> None:
    """Ville's inequality with the rounded counts, by simulation from completions: 2000 runs of 60 steps, 4
    groups of 8 a step, each group's prompt a draw from a start whose per-prompt pass rates are 0 (30% of
    prompts), 0.2 or 0.7, every completion passing with its prompt's rate; the logs are what TRL writes (mean
    reward over 32 completions, share of groups whose rewards agree), b0 the start's exact 1 - pass@8."""
    rng = random.Random(11)
    rates, weights = (0.0, 0.2, 0.7), (0.3, 0.4, 0.3)
    b0 = sum(w * (1 - p) ** G for p, w in zip(rates, weights, strict=True))
    rejected = 0
    for _ in range(2000):
        points = []
        for step in range(1, 61):
            ks = [sum(rng.random() < p for _ in range(G)) for p in rng.choices(rates, weights, k=4)]
            points.append((step, sum(ks) / (4 * G), sum(k in (0, G) for k in ks) / 4))
        test = coverage_test(points, b0, G, 1.0, 0.01, stated=4)
        rejected += test is not None and test.rejected_at is not None
    assert rejected / 2000 <= 0.01


def test_whole_counts_reject_a_run_stuck_at_half_its_groups_failing_sooner() -> None:
    """Each step three groups agree and one is mixed with 7 of 8 passing (15 of 32 passes: one all-pass group,
    two all-fail, the only outcome that logs it): the split's bound counts 1.25 failing groups a step where the
    log says 2; against a start's 0.3 the rounded counts reject within 30 steps, the bound alone does not."""
    points = [(s, 15 / 32, 0.75) for s in range(1, 31)]
    stated = coverage_test(points, 0.3, G, 1.0, 0.01, stated=4)
    read = coverage_test(points, 0.3, G, 1.0, 0.01)
    assert stated is not None and read is not None
    assert stated.all_fail == pytest.approx(2 * 30) and read.all_fail == pytest.approx(1.25 * 30)
    assert stated.rejected_at is not None and read.rejected_at is None


def test_whole_counts_of_real_trl_logs_are_the_fewest_any_outcome_logging_them_has(tmp_path: Path) -> None:
    """Every step of the collapse ladder's seed-1 TRL logs (json alone): the rounded count at the ladder's stated
    4 groups a step equals the brute-force fewest all-fail groups of the (passes, agreeing groups) each step
    logs, and is never below the split's bound."""
    from rankinv.coverage import all_fail_counts

    out = unpack(RESULTS / "runs" / "collapse-seed1.tar.gz", tmp_path)
    settings = json.loads((out / "ladder.json").read_text())["settings"]
    groups, g = settings["rl_batch_size"] // settings["group_size"], settings["group_size"]
    fewest = _every_step(groups, g)
    seen = 0
    for run in sorted((out / "rl").glob("depth-*")):
        logs = [json.loads(line)["logs"] for line in (run / "rankinv.jsonl").read_text().splitlines()]
        steps = [e for e in logs if "frac_reward_zero_std" in e and "reward" in e]
        rewards = np.array([e["reward"] for e in steps])
        zeros = np.array([e["frac_reward_zero_std"] for e in steps])
        whole = all_fail_counts(rewards, zeros, groups, g, 1.0, whole=True)
        bound = all_fail_counts(rewards, zeros, groups, g, 1.0)
        for e, w, b in zip(steps, whole, bound, strict=True):
            key = (round(e["reward"] * groups * g), round(e["frac_reward_zero_std"] * groups))
            assert w == fewest[key] and b <= w + 1e-6, (run.name, key)
        seen += len(steps)
    assert seen >= 9 * 60


def test_share_groups_is_the_fraction_reading_asked_again_or_not() -> None:
    """The remembered reading of a share is the one ``Fraction`` gives it, on every call (oracle: the formula)."""
    rng = np.random.default_rng(7)
    shares = [k / g for g in (1, 2, 3, 7, 8, 16, 96, 4096) for k in range(g + 1)]
    shares += [float(np.float32(k / g)) for g in (5, 7, 12) for k in range(g + 1)]
    shares += [0.1234567, 0.7654321, 1 / 4097, -0.0, *rng.random(200).tolist()]
    for share in [*shares, *shares]:
        f = Fraction(share).limit_denominator(MAX_GROUPS)
        assert share_groups(share) == (None if abs(float(f) - share) > 1e-6 else f.denominator), share
