"""GRPO group signal under binary rewards.

A group of ``g`` rollouts with rewards r ~ Bernoulli(p) carries gradient only when the rewards
differ. With mean-centred advantages the expected within-group variance is p(1-p)(g-1)/g; a group
is *degenerate* (all pass or all fail, zero advantage) with probability p^g + (1-p)^g. ``p*(g)`` is
the pass rate below which most groups are degenerate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _check_group_size(g: int) -> None:
    if g < 2:
        raise ValueError(f"group size must be at least 2 (a group of {g} never has reward variance)")


def _check_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"pass rate must lie in [0, 1], got {p}")


def expected_variance(p: float, g: int) -> float:
    """Expected within-group reward variance with mean-centred advantages: p(1-p)(g-1)/g."""
    _check_group_size(g)
    _check_probability(p)
    return p * (1.0 - p) * (g - 1) / g


def degenerate_probability(p: float, g: int) -> float:
    """Probability that all ``g`` rewards in a group agree: p^g + (1-p)^g."""
    _check_group_size(g)
    _check_probability(p)
    return float(p**g + (1.0 - p) ** g)


def expected_scaled_variance(p: float, g: int) -> float:
    """Expected advantage variance under TRL's per-group std scaling.

    A non-degenerate group's scaled advantages have variance exactly (g-1)/g, a degenerate group's
    are all zero, so the expectation is (g-1)/g * (1 - p^g - (1-p)^g).
    """
    return (g - 1) / g * (1.0 - degenerate_probability(p, g))


def p_star(g: int, threshold: float = 0.5) -> float:
    """The pass rate p in (0, 1/2] at which a group of ``g`` is degenerate with probability ``threshold``.

    f(p) = p^g + (1-p)^g falls monotonically from 1 at p=0 to 2^(1-g) at p=1/2, so the root is unique
    when 2^(1-g) <= threshold < 1. Solved by bisection to machine precision (ln2/g is only an approximation).
    """
    _check_group_size(g)
    floor = 2.0 ** (1 - g)
    if not floor <= threshold < 1.0:
        raise ValueError(
            f"degenerate-probability threshold must lie in [{floor:.3g}, 1) for group size {g}, got {threshold}"
        )
    lo, hi = 0.0, 0.5
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if mid**g + (1 - mid) ** g > threshold:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def headroom(p: float, g: int, threshold: float = 0.5) -> float:
    """How far a pass rate sits above p*(g): p / p*(g). Below 1, most groups carry no signal."""
    _check_probability(p)
    return p / p_star(g, threshold)


def unbiased_p_one_minus_p(c: int, n: int) -> float:
    """Unbiased estimate of p(1-p) from ``c`` passes in ``n`` samples: c(n-c)/(n(n-1))."""
    _check_counts(c, n, minimum_n=2)
    return c * (n - c) / (n * (n - 1))


def unbiased_expected_variance(c: int, n: int, g: int) -> float:
    """Unbiased estimate of p(1-p)(g-1)/g from ``c`` passes in ``n`` samples."""
    _check_group_size(g)
    return unbiased_p_one_minus_p(c, n) * (g - 1) / g


def unbiased_degenerate_probability(c: int, n: int, g: int) -> float:
    """Unbiased estimate of p^g + (1-p)^g: [C(c,g) + C(n-c,g)] / C(n,g), needing n >= g."""
    _check_group_size(g)
    _check_counts(c, n, minimum_n=g)
    return (math.comb(c, g) + math.comb(n - c, g)) / math.comb(n, g)


def _check_counts(c: int, n: int, minimum_n: int) -> None:
    if n < minimum_n:
        raise ValueError(f"need at least {minimum_n} samples per prompt for this estimate, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"passes must lie in [0, n={n}], got c={c}")


@dataclass(frozen=True)
class GroupSignal:
    """Aggregate GRPO signal over a prompt set, each number an unbiased estimate."""

    group_size: int
    prompts: int
    mean_pass_rate: float
    mean_expected_variance: float
    learnable_mass: float
    """Sum over prompts of p(1-p): how much reward variance the set offers in total."""
    degenerate_fraction: float
    """Expected share of GRPO groups with identical rewards (predicts TRL's frac_reward_zero_std)."""
    fraction_below_p_star: float
    never_solved_fraction: float
    headroom: float
    """Mean pass rate over p*(g)."""


def group_signal(passes: npt.ArrayLike, samples: npt.ArrayLike, g: int, threshold: float = 0.5) -> GroupSignal:
    """Summarise per-prompt pass counts (``passes[i]`` of ``samples[i]``) into the GRPO signal at group size g."""
    c = np.asarray(passes, dtype=np.int64).ravel()
    n = np.broadcast_to(np.asarray(samples, dtype=np.int64), c.shape)
    if c.size == 0:
        raise ValueError("no prompts: the GRPO signal needs at least one prompt with samples")
    ps = p_star(g, threshold)
    rates = c / n
    variances = [unbiased_expected_variance(int(ci), int(ni), g) for ci, ni in zip(c, n, strict=True)]
    pq = [unbiased_p_one_minus_p(int(ci), int(ni)) for ci, ni in zip(c, n, strict=True)]
    degenerate = [
        unbiased_degenerate_probability(int(ci), int(ni), g) if ni >= g else degenerate_probability(ci / ni, g)
        for ci, ni in zip(c, n, strict=True)
    ]
    mean_rate = float(rates.mean())
    return GroupSignal(
        group_size=g,
        prompts=int(c.size),
        mean_pass_rate=mean_rate,
        mean_expected_variance=float(np.mean(variances)),
        learnable_mass=float(np.sum(pq)),
        degenerate_fraction=float(np.mean(degenerate)),
        fraction_below_p_star=float(np.mean(rates < ps)),
        never_solved_fraction=float(np.mean(c == 0)),
        headroom=mean_rate / ps,
    )
