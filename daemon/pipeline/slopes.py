"""Theil–Sen of a sliding window, its pairwise slopes kept sorted: a point that joins costs its n slopes and a
point that leaves its n, instead of the window's n²/2 slopes being computed and sorted again.

:class:`SlopeWindow` returns what ``rankinv.stats.theil_sen`` returns on the same points: every slope is the
same float expression on the same two values (the later point minus the earlier, pairs with equal x left out),
the multiset of slopes is the same, and the median, interval and intercept are read from it by the same code
(``theil_sen_sorted``). The one freedom a sort has, the order of slopes that compare equal, could only show as the
sign of a zero (0.0 or -0.0 at a rank the fit reads), so a window where a read slope is zero is fitted in full.

Windows shorter than ``INCREMENTAL_FROM`` points are fitted in full (cheaper there).

Correctness does not rest on the caller: each fit is handed the whole window (keys, x, y) and the kept state is
used only for the part that equals, key for key and value for value, what it holds; anything else (a window
that moved backwards, a value that changed, a non-finite value) is fitted from scratch.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rankinv.stats import Slope, theil_sen, theil_sen_sorted
from rankinv.stats import _pairs as pairs
from rankinv.stats import _ranks as ranks

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
INCREMENTAL_FROM = 128  # below this many points NumPy's fixed cost per call makes the full fit cheaper (measured)


def increasing_fit(x: FloatArray, y: FloatArray) -> Slope:
    """``theil_sen(x, y)`` of finite points at strictly increasing x (a window of a live series): the same arrays
    through the same operations, without the checks that find every point finite and every pair's x apart."""
    i, j = pairs(x.size)
    slopes = (y[j] - y[i]) / (x[j] - x[i])
    slopes.sort()
    return theil_sen_sorted(x, y, slopes)


class SlopeWindow:
    """The Theil–Sen fit of the last window handed to :meth:`fit`, and its sorted slopes."""

    def __init__(self, incremental_from: int | None = None) -> None:
        self.incremental_from = INCREMENTAL_FROM if incremental_from is None else incremental_from
        self.keys: IntArray = np.empty(0, dtype=np.int64)
        self.x: FloatArray = np.empty(0)
        self.y: FloatArray = np.empty(0)
        self.slopes: FloatArray = np.empty(0)
        self.computed = 0  # pairwise slopes computed so far (for the tests of cost)

    def fit(self, keys: IntArray, x: FloatArray, y: FloatArray) -> Slope:
        """``theil_sen(x, y)``; ``keys`` name the points (strictly increasing), so that a window that lost points
        at its start and gained them at its end reuses the slopes of the points it kept."""
        if x.size < self.incremental_from or not (np.isfinite(x).all() and np.isfinite(y).all()):
            self._reset()
            return theil_sen(x, y)
        keep = self._kept(keys, x, y)
        if keep is None:
            self._rebuild(keys, x, y)
        else:
            for i in range(keep, keys.size):
                self._push(int(keys[i]), float(x[i]), float(y[i]))
        if self._reads_a_zero():
            return theil_sen(x, y)
        return theil_sen_sorted(self.x, self.y, self.slopes)

    def _reads_a_zero(self) -> bool:
        """Whether a slope the fit reads (the median's one or two, the interval's ends) is a zero."""
        m = self.slopes.size
        if not m:
            return False
        half = m // 2
        lo, hi = ranks(self.x.size, m, 0.95)
        picked = (half, lo, hi, half - 1) if m % 2 == 0 else (half, lo, hi)
        return bool((self.slopes[list(picked)] == 0).any())

    def _kept(self, keys: IntArray, x: FloatArray, y: FloatArray) -> int | None:
        """How many of the new window's first points are the held window's last ones, the points before them
        dropped (None: start again)."""
        if not self.keys.size or not keys.size:
            return None
        start = int(np.searchsorted(self.keys, keys[0]))
        held = self.keys.size - start
        if held == 0 or held > keys.size:
            return None
        same = (np.array_equal(self.keys[start:], keys[:held]) and np.array_equal(self.x[start:], x[:held])
                and np.array_equal(self.y[start:], y[:held]))  # fmt: skip
        if not same:
            return None
        self._drop(start)
        return held

    def _drop(self, count: int) -> None:
        """Remove the first ``count`` points and every slope they take part in."""
        if count <= 0:
            return
        gone = []
        for i in range(count):
            dx = self.x[i + 1:] - self.x[i]
            ok = dx != 0
            gone.append((self.y[i + 1:] - self.y[i])[ok] / dx[ok])
        self.computed += sum(g.size for g in gone)
        self.keys, self.x, self.y = self.keys[count:], self.x[count:], self.y[count:]
        removed = np.sort(np.concatenate(gone))
        if removed.size:
            first = np.searchsorted(removed, removed, side="left")  # equal slopes: the k-th copy goes to place k
            at = np.searchsorted(self.slopes, removed, side="left") + (np.arange(removed.size) - first)
            if at[-1] >= self.slopes.size or not np.array_equal(self.slopes[at], removed):
                self._rebuild(self.keys, self.x, self.y)  # not what was added (cannot happen for finite points)
                return
            self.slopes = np.delete(self.slopes, at)

    def _push(self, key: int, x: float, y: float) -> None:
        dx = x - self.x
        ok = dx != 0
        new = np.sort((y - self.y)[ok] / dx[ok])
        self.computed += new.size
        self.slopes = np.insert(self.slopes, np.searchsorted(self.slopes, new), new)
        self.keys = np.append(self.keys, np.int64(key))
        self.x, self.y = np.append(self.x, x), np.append(self.y, y)

    def _rebuild(self, keys: IntArray, x: FloatArray, y: FloatArray) -> None:
        """All pairs at once, as ``theil_sen`` forms them."""
        i, j = pairs(x.size)
        dx = x[j] - x[i]
        ok = dx != 0
        self.slopes = np.sort((y[j] - y[i])[ok] / dx[ok])
        self.computed += self.slopes.size
        self.keys = np.array(keys, dtype=np.int64)
        self.x, self.y = np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)

    def _reset(self) -> None:
        self.keys, self.x, self.y, self.slopes = np.empty(0, dtype=np.int64), np.empty(0), np.empty(0), np.empty(0)


STACK_SLOPES = 1 << 15  # pairwise slopes held at once by :func:`stacked_fits` (256 KiB): rows are fitted in chunks
STACK_POINTS = 64  # longer windows are fitted one by one: their slopes, not the cost per NumPy call, dominate


def stacked_fits(xs: FloatArray, ys: FloatArray) -> list[Slope | None]:
    """``theil_sen`` of each row of ``xs``, ``ys`` (rows of n >= 2 finite points), a few NumPy calls for all the
    rows instead of a dozen per row; None for a row with two equal x (``theil_sen`` leaves such pairs out, so that
    row's slopes are fewer) or a non-finite value. Every number is the same float expression on the same values as
    ``theil_sen`` takes (each row sorted by the same sort), so each fit equals it to the bit."""
    rows, n = xs.shape
    i, j = pairs(n)
    step = max(1, STACK_SLOPES // max(1, i.size))
    out: list[Slope | None] = []
    for a in range(0, rows, step):
        out += _stacked(xs[a:a + step], ys[a:a + step], i, j)
    return out


def _stacked(xs: FloatArray, ys: FloatArray, i: IntArray, j: IntArray) -> list[Slope | None]:
    with np.errstate(all="ignore"):  # a row with two equal x or a non-finite value is None; others warn as theil_sen
        return _stacked_rows(xs, ys, i, j)


def _stacked_rows(xs: FloatArray, ys: FloatArray, i: IntArray, j: IntArray) -> list[Slope | None]:
    n = xs.shape[1]
    dx = np.take(xs, j, axis=1) - np.take(xs, i, axis=1)  # take: 4x faster than xs[:, j] (measured)
    slopes = (np.take(ys, j, axis=1) - np.take(ys, i, axis=1)) / dx
    usable = (dx != 0).all(axis=1) & np.isfinite(xs).all(axis=1) & np.isfinite(ys).all(axis=1)
    slopes.sort(axis=1)
    m = slopes.shape[1]
    half = m // 2
    slope = slopes[:, half] if m % 2 else (slopes[:, half - 1] + slopes[:, half]) / 2
    lo_rank, hi_rank = ranks(n, m, 0.95)
    residuals = ys - slope[:, None] * xs
    residuals.sort(axis=1)
    mid = n // 2
    intercept = residuals[:, mid] if n % 2 else (residuals[:, mid - 1] + residuals[:, mid]) / 2
    return [Slope(s, c, lo, hi, n) if ok else None
            for s, c, lo, hi, ok in zip(slope.tolist(), intercept.tolist(), slopes[:, lo_rank].tolist(),
                                        slopes[:, hi_rank].tolist(), usable.tolist(), strict=True)]  # fmt: skip
