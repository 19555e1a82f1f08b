"""How much of a run's measured pass@10 change is sampling noise: the noise-aware stage-2 oracle's arithmetic.

Written down in ``VALIDATION.md`` before the seeds it judges were read. Each prompt's pass rate p, given c passes
in n samples, is taken as Beta(c + 1/2, n - c + 1/2) (Jeffreys); its true pass@k = 1 - (1 - p)^k then has the
exact posterior variance

    Var = B(a, b + 2k) / B(a, b) - (B(a, b + k) / B(a, b))^2        (a = c + 1/2, b = n - c + 1/2)

and the mean pass@k over N prompts has variance Σ Var / N². The change after - before (the same prompts,
sampled independently) has standard deviation sqrt(sd_before² + sd_after²). Only sampling noise: GRPO's
seed-to-seed spread is not in it. Plain ``math`` (no rankinv code), so it is an oracle independent of the code
it judges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

K = 10
NOISE_SDS = 2.0
"""A change beyond this many standard deviations is a loss or a gain; within it the run is flat."""


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def prompt_variance(c: int, n: int, k: int = K) -> float:
    """Posterior variance of one prompt's true pass@k after c passes in n samples (Jeffreys prior)."""
    a, b = c + 0.5, n - c + 0.5
    base = _log_beta(a, b)
    first = math.exp(_log_beta(a, b + k) - base)
    second = math.exp(_log_beta(a, b + 2 * k) - base)
    return max(0.0, second - first * first)


def mean_sd(counts: Sequence[Sequence[int]], k: int = K) -> float:
    """Standard deviation of the mean pass@k over prompts given their (passes, samples); NaN without counts."""
    if not counts:
        return math.nan
    return math.sqrt(sum(prompt_variance(int(c), int(n), k) for c, n in counts)) / len(counts)


def change_sd(before: Sequence[Sequence[int]], after: Sequence[Sequence[int]], k: int = K) -> float:
    """Standard deviation of after - before pass@k (independent samples of the same prompts)."""
    return math.hypot(mean_sd(before, k), mean_sd(after, k))


def outcome(before: float, after: float, sd: float) -> str | None:
    """``lost``, ``gained`` or ``flat`` (within ``NOISE_SDS`` standard deviations); None when sd is unknown."""
    if not math.isfinite(sd):
        return None
    change = after - before
    if change < -NOISE_SDS * sd:
        return "lost"
    return "gained" if change > NOISE_SDS * sd else "flat"
