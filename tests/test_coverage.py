"""The sequential coverage test: its likelihood ratio against a hand computation, its error rate under the null
by simulation, and the groups per step it reads from real TRL logs against the ladder's own batch settings."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from examples.ladder.collect import unpack
from rankinv.coverage import PRIOR_POINTS, coverage_test, groups_per_step

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
