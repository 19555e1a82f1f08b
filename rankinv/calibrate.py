"""Re-calibrate thresholds on finished runs: the paper's τ_H and τ₂ came from one model family.

A run *failed* when its measured final pass@10 is below ``fail_fraction`` of the best run in the history. A
threshold is chosen at a midpoint between observed values to maximise balanced accuracy (mean of the hit rates on
failed and on good runs), and judged by leave-one-out: choose on n-1 runs, classify the one left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ThresholdFit:
    metric: str
    threshold: float
    direction: str
    """">" when values above the threshold mean failure (entropy drop), "<" when below does (entropy)."""
    balanced_accuracy: float
    loo_accuracy: float
    n: int


def failed(outcomes: Sequence[float], fail_fraction: float) -> list[bool]:
    best = max(outcomes)
    return [y < fail_fraction * best for y in outcomes]


def _balanced(values: np.ndarray, bad: np.ndarray, t: float, direction: str) -> float:
    flagged = values > t if direction == ">" else values < t
    rates = [float(np.mean(flagged[bad] == bad[bad])) if bad.any() else math.nan,
             float(np.mean(flagged[~bad] == bad[~bad])) if (~bad).any() else math.nan]
    finite = [r for r in rates if math.isfinite(r)]
    return float(np.mean(finite)) if finite else math.nan


def _choose(values: np.ndarray, bad: np.ndarray, direction: str) -> tuple[float, float]:
    u = np.unique(values)
    if u.size < 2:
        return float(u[0]) if u.size else math.nan, math.nan
    cuts = (u[:-1] + u[1:]) / 2
    scores = [_balanced(values, bad, float(t), direction) for t in cuts]
    i = int(np.nanargmax(scores))
    return float(cuts[i]), float(scores[i])


def fit_threshold(metric: str, values: Sequence[float], bad: Sequence[bool], direction: str) -> ThresholdFit | None:
    """Best threshold on ``values`` for separating ``bad`` runs; None with fewer than 4 usable runs, one class
    only, or no threshold better than chance."""
    v = np.asarray(values, dtype=np.float64)
    b = np.asarray(bad, dtype=bool)
    ok = np.isfinite(v)
    v, b = v[ok], b[ok]
    if v.size < 4 or b.all() or not b.any():
        return None
    threshold, score = _choose(v, b, direction)
    if not score > 0.5:  # no better than chance: suggest nothing
        return None
    hits = []
    for i in range(v.size):
        mask = np.arange(v.size) != i
        t, _ = _choose(v[mask], b[mask], direction)
        hits.append(((v[i] > t) if direction == ">" else (v[i] < t)) == b[i])
    return ThresholdFit(metric, threshold, direction, score, float(np.mean(hits)), int(v.size))
