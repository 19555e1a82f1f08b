"""The sequential coverage test of :mod:`rankinv.coverage` kept up to date step by step, for a run followed
live: its Λ is a function of running sums (the all-fail groups counted and the groups seen), so the test after
new steps costs those steps, not the run's history.

:meth:`KeptSignal.test` equals :func:`rankinv.coverage.coverage_test` over the same points to the bit: each
step's count comes from the same :func:`~rankinv.coverage.all_fail_counts`, the running sum is added in
``np.cumsum``'s order (the last sum first), each step's ratio is the same row-wise log-mean-exp, the peak a
running maximum and the first crossing found once. What makes it start again from the first step (O(history),
rare): a different groups-per-step G (a share with a new denominator; a log holds few distinct shares, and a
stated G is used only while the read one divides it), or a different start, group size, ceiling or α.
``touched`` counts the steps computed, for the tests of that cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

import numpy as np

from rankinv.coverage import (
    BLOCK,
    MAX_GROUPS,
    PRIOR_POINTS,
    CoverageTest,
    _log_mean_exp,
    all_fail_counts,
    coverage_test,
    share_groups,
)

Signal = tuple[int, float, float]


class KeptSignal:
    """A run's (step, mean reward, zero-std share) at every step that has both, appended in step order, with
    the test over them computed for the steps added since it was last asked."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.reward: list[float] = []
        self.zero: list[float] = []
        self.touched = 0
        self._shares: set[float] = set()
        self._lcm, self._whole = 1, True  # G so far; False once a share is no whole count of <= MAX_GROUPS groups
        self._key: tuple[float, int, float, float, int, bool] | None = None  # what the computed prefix was computed for
        self._done = 0  # steps computed
        self._fails, self._seen, self._last, self._peak = 0.0, 0, math.nan, -math.inf
        self._first: int | None = None
        self._up = self._down = np.empty(0)

    def __len__(self) -> int:
        return len(self.steps)

    def append(self, step: int, reward: float, zero_std: float) -> None:
        """One more step (after every step appended so far); a non-finite value is dropped, as the test drops it."""
        if not (math.isfinite(reward) and math.isfinite(zero_std)):
            return
        self.steps.append(step)
        self.reward.append(reward)
        self.zero.append(zero_std)
        if self._whole and zero_std not in self._shares:
            self._shares.add(zero_std)
            self._count_groups(zero_std)

    def _count_groups(self, share: float) -> None:
        """:func:`rankinv.coverage.groups_per_step`, one new distinct share at a time (the least common multiple
        of the shares' denominators, or 1 from the first share that is no whole count)."""
        denominator = share_groups(share)
        if denominator is None:
            self._whole = False
            return
        self._lcm = self._lcm * denominator // math.gcd(self._lcm, denominator)
        if self._lcm > MAX_GROUPS:
            self._whole = False

    @property
    def per_step(self) -> int:
        return self._lcm if self._whole else 1

    def view(self) -> SignalView:
        """The points as they are now, which later appends do not change."""
        return SignalView(self, len(self.steps))

    def test(self, start: float, group_size: int, ceiling: float, alpha: float, *,
             stated: int | None = None) -> CoverageTest | None:  # fmt: skip
        """``coverage_test(points, start, group_size, ceiling, alpha, stated=stated)`` over every point appended."""
        if not 0.0 < start < 1.0 or not self.steps or not (ceiling > 0 and group_size >= 2):
            return None
        per_step = self.per_step
        whole = stated is not None and stated % per_step == 0  # the read G divides the stated one
        per_step = stated if stated is not None and whole else per_step
        key = (start, group_size, ceiling, alpha, per_step, whole and ceiling == 1.0)
        if key != self._key:
            self._key, self._done = key, 0
            self._fails, self._seen, self._last, self._peak, self._first = 0.0, 0, math.nan, -math.inf, None
            p = start + (1.0 - start) * (np.arange(PRIOR_POINTS) + 0.5) / PRIOR_POINTS
            self._up, self._down = np.log(p / start), np.log((1.0 - p) / (1.0 - start))
        lo, n = self._done, len(self.steps)
        if lo < n:
            self._extend(lo, n)
        return CoverageTest(math.exp(min(self._last, 700.0)), math.exp(min(self._peak, 700.0)), self._first,
                            self._fails, self._seen, per_step)  # fmt: skip

    def _extend(self, lo: int, n: int) -> None:
        """Compute steps ``lo`` to ``n`` from the running sums left by the steps before them."""
        assert self._key is not None
        _, group_size, ceiling, alpha, per_step, whole = self._key
        reward = np.asarray(self.reward[lo:n], dtype=np.float64)
        zero = np.asarray(self.zero[lo:n], dtype=np.float64)
        counts = all_fail_counts(reward, zero, per_step, group_size, ceiling, whole=whole)
        fails = np.cumsum(counts) if lo == 0 else np.cumsum(np.concatenate(([self._fails], counts)))[1:]
        seen = per_step * np.arange(lo + 1, n + 1, dtype=np.float64)
        up, down = self._up, self._down
        ratio = np.concatenate([_log_mean_exp(fails[i:i + BLOCK, None] * up + (seen - fails)[i:i + BLOCK, None] * down)
                                for i in range(0, counts.size, BLOCK)])  # fmt: skip
        if self._first is None:
            crossed = np.flatnonzero(ratio >= math.log(1.0 / alpha))
            self._first = self.steps[lo + int(crossed[0])] if crossed.size else None
        self._peak = max(self._peak, float(ratio.max()))
        self._last, self._fails, self._seen, self._done = float(ratio[-1]), float(fails[-1]), int(seen[-1]), n
        self.touched += n - lo


class SignalView(Sequence[Signal]):
    """The first ``n`` points of a :class:`KeptSignal`: what :attr:`rankinv.monitor.MonitorResult.step_signal`
    holds for a live monitor. :meth:`coverage_test` is the kept test while no point came after them."""

    def __init__(self, kept: KeptSignal, n: int):
        self.kept, self.n = kept, n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> Signal: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Signal]: ...
    def __getitem__(self, i: int | slice) -> Signal | Sequence[Signal]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        j = range(self.n)[i]  # negative indices and bounds as a sequence's
        k = self.kept
        return k.steps[j], k.reward[j], k.zero[j]

    def coverage_test(self, start: float, group_size: int, ceiling: float, alpha: float, *,
                      stated: int | None = None) -> CoverageTest | None:  # fmt: skip
        if self.n == len(self.kept):
            return self.kept.test(start, group_size, ceiling, alpha, stated=stated)
        return coverage_test(list(self), start, group_size, ceiling, alpha, stated=stated)  # an older view: anew
