"""Entropy of the rollout distribution from recorded per-token values, in plain numpy, for scripts and notebooks.

The triage backends record the same quantities while sampling (in torch) and the monitor reads entropy from the
training logs; these functions are the reference definitions to compare them against.

Token-mean entropy is a ratio of sums over every generated token (as GRPO's per-token loss sees it),
not a mean of per-sequence means, which would over-weight short completions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _flatten(per_sequence: Sequence[npt.ArrayLike]) -> tuple[FloatArray, FloatArray]:
    sums = np.array([float(np.sum(np.asarray(s, dtype=np.float64))) for s in per_sequence], dtype=np.float64)
    counts = np.array([np.asarray(s).size for s in per_sequence], dtype=np.float64)
    return sums, counts


def token_mean_entropy(per_sequence: Sequence[npt.ArrayLike]) -> float:
    """Mean entropy per generated token across all sequences: sum of all entropies / number of tokens."""
    sums, counts = _flatten(per_sequence)
    total = counts.sum()
    if total == 0:
        raise ValueError("no generated tokens: entropy is undefined for empty completions")
    return float(sums.sum() / total)


def per_sequence_entropy(per_sequence: Sequence[npt.ArrayLike]) -> FloatArray:
    """Mean token entropy of each sequence (NaN for an empty sequence)."""
    sums, counts = _flatten(per_sequence)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def monte_carlo_entropy(sampled_logprobs: Sequence[npt.ArrayLike]) -> float:
    """Monte-Carlo entropy estimate: the token-mean surprisal -log p of the tokens actually sampled.

    Unbiased for the per-step entropy along sampled paths when the log-probs are those of the
    sampling distribution (after temperature), which is what both backends record.
    """
    return -token_mean_entropy(sampled_logprobs)


def entropy_of_logprobs(logprobs: npt.ArrayLike) -> FloatArray:
    """Exact entropy (nats) of each distribution along the last axis, given normalised log-probs."""
    lp = np.asarray(logprobs, dtype=np.float64)
    p = np.exp(lp)
    with np.errstate(invalid="ignore"):  # 0 * -inf for impossible tokens; masked out below
        terms = np.where(p > 0, p * lp, 0.0)
    return np.asarray(-np.sum(terms, axis=-1), dtype=np.float64)


def value_at_or_after(steps: npt.ArrayLike, values: npt.ArrayLike, step: float) -> tuple[float, float] | None:
    """The first finite (step, value) with step >= ``step``; None if there is none."""
    s = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    ok = (s >= step) & np.isfinite(v)
    if not ok.any():
        return None
    i = int(np.argmax(ok))
    return float(s[i]), float(v[i])


def value_at_or_before(steps: npt.ArrayLike, values: npt.ArrayLike, step: float) -> tuple[float, float] | None:
    """The last finite (step, value) with step <= ``step``; None if there is none."""
    s = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    ok = np.flatnonzero((s <= step) & np.isfinite(v))
    if ok.size == 0:
        return None
    i = int(ok[-1])
    return float(s[i]), float(v[i])


def relative_drop(steps: npt.ArrayLike, values: npt.ArrayLike, start: float, end: float) -> float:
    """Relative fall (v_start - v_end) / v_start between two steps of a series.

    The start value is the first finite point at or after ``start``; the end value the last finite
    point at or before ``end``. Returns NaN when either is missing, the window is empty, or the
    start value is not positive.
    """
    first = value_at_or_after(steps, values, start)
    last = value_at_or_before(steps, values, end)
    if first is None or last is None or last[0] <= first[0] or first[1] <= 0:
        return math.nan
    return (first[1] - last[1]) / first[1]
