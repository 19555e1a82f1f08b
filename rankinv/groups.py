"""Which degenerate groups a GRPO run has: all-pass (nothing left to learn) or all-fail (no gradient, not learnt).

A group of g completions is degenerate when its rewards all agree (TRL's ``frac_reward_zero_std`` is the share
z of such groups). With 0/1 rewards scaled by the ceiling c, the mean reward m/c over all groups is::

    m/c = a + (1 - z) μ        a = all-pass share, b = z - a = all-fail share

where μ is the mean pass rate inside the mixed groups. A mixed group has between 1 and g-1 passes, so
μ ∈ [1/g, 1 - 1/g], which bounds a without any fitted number::

    a ∈ [max(0, m/c - (1 - z)(1 - 1/g)),  min(z, m/c - (1 - z)/g)]

and the point estimate takes μ = 1/2. When z is high the bounds are tight; when most groups are mixed they are
wide. What is left to learn is b + (1 - z); GRPO can learn only from the mixed share 1 - z, so a run is *stuck*
when b exceeds it (for every μ) and has *learnt* what it can when b does not and all-pass groups outnumber
all-fail ones. Exact for 0/1 reward functions (TRL sums them,
so c is their number); for graded rewards the split reads "at the ceiling" against "not" only approximately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GroupSplit:
    """Shares of all-pass and all-fail groups, with bounds that hold for any mixed-group pass rate."""

    degenerate: float
    all_pass: float
    all_pass_lo: float
    all_pass_hi: float

    @property
    def all_fail(self) -> float:
        return self.degenerate - self.all_pass

    @property
    def all_fail_lo(self) -> float:
        return self.degenerate - self.all_pass_hi

    @property
    def all_fail_hi(self) -> float:
        return self.degenerate - self.all_pass_lo

    @property
    def mixed(self) -> float:
        """Share of groups whose rewards differ: the only ones GRPO learns from."""
        return 1.0 - self.degenerate

    @property
    def stuck(self) -> bool:
        """All-fail groups (never learnt, no gradient) outnumber the groups still learning, for any μ."""
        return self.all_fail_lo > self.mixed

    @property
    def learnt(self) -> bool:
        """What is left to learn is mostly still learnable (all-fail groups no more than mixed ones) and the
        groups that agree mostly pass, for any μ: the run is at or climbing to its reward's ceiling."""
        return self.all_fail_hi <= self.mixed and self.all_pass_lo > self.all_fail_hi


def split(reward_mean: float, zero_std: float, group_size: int, ceiling: float = 1.0) -> GroupSplit | None:
    """The split of the module docstring; None when the reward, the zero-std share or the ceiling is unknown."""
    if not (math.isfinite(reward_mean) and math.isfinite(zero_std) and ceiling > 0 and group_size >= 2):
        return None
    m = min(1.0, max(0.0, reward_mean / ceiling))
    z = min(1.0, max(0.0, zero_std))
    g = float(group_size)

    def clip(a: float) -> float:
        return min(z, max(0.0, a))

    lo, hi = clip(m - (1 - z) * (1 - 1 / g)), clip(m - (1 - z) / g)
    return GroupSplit(z, min(hi, max(lo, clip(m - (1 - z) / 2))), lo, hi)
