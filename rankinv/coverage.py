"""A sequential test of lost coverage: does a GRPO run fail in every completion of a group more often than the
checkpoint it started from would?

H0: at every step each group's chance of failing in all g completions is at most the start's b0 = 1 - pass@g.
Each logged step gives its own count of groups (TRL's ``frac_reward_zero_std`` is a share of the step's G
groups) and a lower bound on how many of them all failed, for every mixed-group pass rate (``rankinv.groups``).
The evidence is the likelihood ratio of those counts against b0, mixed over a uniform prior for the all-fail
chance on [b0, 1] (evaluated on equally spaced midpoints, itself a proper mixture)::

    Λ_t = mean_j  prod_{s <= t} (p_j / b0)^F_s ((1 - p_j) / (1 - b0))^(G - F_s)

Under H0 every factor has conditional mean at most 1 (p_j >= b0), so Λ is a nonnegative supermartingale and, by
Ville's inequality, P(Λ ever reaches 1/α) <= α however often it is looked at. A lower bound F_s in place of the
true count only shrinks Λ (it grows with F for p_j > b0), and so does a G smaller than the true one: the G read
from the logs is the smallest that makes every logged share a whole count. Independence assumed: the groups of
a step are different prompts sampled at random, each judged by its own g completions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from rankinv.groups import split

PRIOR_POINTS = 64
MAX_GROUPS = 4096  # a share that is no whole count of at most this many groups says nothing about G


@dataclass(frozen=True)
class CoverageTest:
    """The test's state after the last step: the likelihood ratio now and its highest value so far, the step at
    which it first reached 1/α (None: not yet), and the all-fail groups counted (at least) over the groups seen."""

    ratio: float
    peak: float
    rejected_at: int | None
    all_fail: float
    groups: int
    per_step: int


def groups_per_step(shares: Sequence[float]) -> int:
    """The smallest G for which every logged zero-std share is k/G (1 when a share fits no G <= MAX_GROUPS)."""
    g = 1
    for share in shares:
        f = Fraction(share).limit_denominator(MAX_GROUPS)
        if abs(float(f) - share) > 1e-6:
            return 1
        g = g * f.denominator // math.gcd(g, f.denominator)
        if g > MAX_GROUPS:
            return 1
    return g


def coverage_test(points: Sequence[tuple[int, float, float]], start: float, group_size: int, ceiling: float,
                  alpha: float) -> CoverageTest | None:  # fmt: skip
    """The test of the module docstring over ``points`` = (step, mean reward, zero-std share) per logged step, in
    step order; None when the start's b0 is not strictly between 0 and 1 or no step has both values."""
    if not 0.0 < start < 1.0 or not points:
        return None
    per_step = groups_per_step([z for _, _, z in points])
    p = start + (1.0 - start) * (np.arange(PRIOR_POINTS) + 0.5) / PRIOR_POINTS
    up, down = np.log(p / start), np.log((1.0 - p) / (1.0 - start))
    log_w = np.full(PRIOR_POINTS, -math.log(PRIOR_POINTS))
    threshold, peak, first, fails, seen = math.log(1.0 / alpha), -math.inf, None, 0.0, 0
    for step, reward, zero_std in points:
        s = split(reward, zero_std, group_size, ceiling)
        if s is None:
            continue
        count = per_step * s.all_fail_lo
        log_w = log_w + count * up + (per_step - count) * down
        ratio = float(np.logaddexp.reduce(log_w))
        peak = max(peak, ratio)
        if first is None and ratio >= threshold:
            first = step
        fails, seen = fails + count, seen + per_step
    if not seen:
        return None
    return CoverageTest(math.exp(min(ratio, 700.0)), math.exp(min(peak, 700.0)), first, fails, seen, per_step)
