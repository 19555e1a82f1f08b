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

When the number of groups a step is *stated* (``[verdict] groups_per_step``, else the run manifest's, the
trainer's batch over g: ``rankinv.run_groups``) and the
reward is one 0/1 function, a step whose logged mean reward is a whole number P of passes over its G·g
completions and whose zero-std share is a whole number Z of groups has its all-pass groups A a whole number too,
with g·A + (G - Z) <= P (each mixed group passes at least once), so at least Z - max{A: g·A <= P - (G - Z)} groups
all failed: the same bound, rounded as counts are. Only with G stated: rounding at a G smaller than the true one
could count more all-fail groups than there were.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

PRIOR_POINTS = 64
BLOCK = 2048  # steps per numpy block: bounded memory for runs of any length
MAX_GROUPS = 4096  # a share that is no whole count of at most this many groups says nothing about G
WHOLE = 1e-3  # a logged share times its count within this of an integer is that integer (float32 means of 0/1)


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


class KeptTest(Protocol):
    """Points that keep their own test up to date as steps are added (a live monitor's,
    :class:`rankinv.coverage_kept.SignalView`): :func:`coverage_test` over them is theirs, the same result."""

    def coverage_test(self, start: float, group_size: int, ceiling: float, alpha: float, *,
                      stated: int | None = None) -> CoverageTest | None: ...  # fmt: skip


@functools.lru_cache(maxsize=4096)
def share_groups(share: float) -> int | None:
    """The fewest groups (at most MAX_GROUPS) of which ``share`` is a whole count, None when there are none. Remembered
    per share: logs hold few distinct shares, the same ones from run to run, and ``Fraction`` costs about 8 µs."""
    f = Fraction(share).limit_denominator(MAX_GROUPS)
    return None if abs(float(f) - share) > 1e-6 else f.denominator


def groups_per_step(shares: Sequence[float]) -> int:
    """The smallest G for which every logged zero-std share is k/G (1 when a share fits no G <= MAX_GROUPS)."""
    g = 1
    for share in sorted(set(shares)):  # the same G in any order; a log holds few distinct shares
        denominator = share_groups(share)
        if denominator is None:
            return 1
        g = g * denominator // math.gcd(g, denominator)
        if g > MAX_GROUPS:
            return 1
    return g


def all_fail_counts(reward: FloatArray, zero_std: FloatArray, per_step: int, group_size: int,
                    ceiling: float, *, whole: bool = False) -> FloatArray:  # fmt: skip
    """Per step, the fewest of its ``per_step`` groups that can have all failed for any mixed-group pass rate:
    :attr:`rankinv.groups.GroupSplit.all_fail_lo` times G, for arrays of steps. ``whole``: ``per_step`` is the
    stated true G and the reward one 0/1 function, so a step whose passes and degenerate groups are whole counts
    takes the rounded count of the module docstring (never fewer than the bound)."""
    m = np.minimum(1.0, np.maximum(0.0, reward / ceiling))
    z = np.minimum(1.0, np.maximum(0.0, zero_std))
    all_pass_hi = np.minimum(z, np.maximum(0.0, m - (1 - z) / float(group_size)))
    bound: FloatArray = per_step * (z - all_pass_hi)
    if not whole:
        return bound
    passes, degenerate = m * per_step * group_size, z * per_step
    p, d = np.round(passes), np.round(degenerate)
    exact = (np.abs(passes - p) <= WHOLE) & (np.abs(degenerate - d) <= WHOLE)
    counted = d - np.maximum(0.0, np.minimum(d, np.floor((p - (per_step - d)) / group_size)))
    out: FloatArray = np.where(exact, counted, bound)  # counted >= bound in exact arithmetic
    return out


def _log_mean_exp(x: FloatArray) -> FloatArray:
    """log of the mean of exp over each row, without overflow."""
    top: FloatArray = x.max(axis=1)
    out: FloatArray = top + np.log(np.exp(x - top[:, None]).mean(axis=1))
    return out


def coverage_test(points: Sequence[tuple[int, float, float]], start: float, group_size: int, ceiling: float,
                  alpha: float, *, stated: int | None = None) -> CoverageTest | None:  # fmt: skip
    """The test of the module docstring over ``points`` = (step, mean reward, zero-std share) per logged step, in
    step order; None when the start's b0 is not strictly between 0 and 1, no step has both values, or the ceiling
    or the group size cannot split groups. ``stated``: the groups a step, as configured; used (with whole counts
    for a single 0/1 reward) when the logged shares fit it, else ignored and G read from the logs. Cost: one pass
    of numpy over the steps, in blocks (the steps since the last call for points that keep their test,
    :class:`KeptTest`)."""
    if callable(getattr(points, "coverage_test", None)):  # (not isinstance of the Protocol: slow, every judgement)
        return cast(KeptTest, points).coverage_test(start, group_size, ceiling, alpha, stated=stated)
    if not 0.0 < start < 1.0 or not points or not (ceiling > 0 and group_size >= 2):
        return None
    steps, reward, zero_std = (np.asarray(c, dtype=np.float64) for c in zip(*points, strict=True))
    keep = np.isfinite(reward) & np.isfinite(zero_std)
    if not keep.any():
        return None
    steps, reward, zero_std = steps[keep], reward[keep], zero_std[keep]
    per_step = groups_per_step(zero_std.tolist())
    whole = stated is not None and stated % per_step == 0  # the read G divides the true one
    per_step = stated if stated is not None and whole else per_step
    counts = all_fail_counts(reward, zero_std, per_step, group_size, ceiling, whole=whole and ceiling == 1.0)
    p = start + (1.0 - start) * (np.arange(PRIOR_POINTS) + 0.5) / PRIOR_POINTS
    up, down = np.log(p / start), np.log((1.0 - p) / (1.0 - start))
    fails = np.cumsum(counts)
    seen = per_step * np.arange(1, counts.size + 1, dtype=np.float64)
    ratio = np.concatenate([_log_mean_exp(fails[i:i + BLOCK, None] * up + (seen - fails)[i:i + BLOCK, None] * down)
                            for i in range(0, counts.size, BLOCK)])  # fmt: skip
    crossed = np.flatnonzero(ratio >= math.log(1.0 / alpha))
    first = int(steps[crossed[0]]) if crossed.size else None
    return CoverageTest(math.exp(min(float(ratio[-1]), 700.0)), math.exp(min(float(ratio.max()), 700.0)), first,
                        float(fails[-1]), int(seen[-1]), per_step)
