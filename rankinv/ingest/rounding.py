"""Is a log's precision too coarse to trust small values? (verl ≤ 0.4 prints ``kl:0.000``.)

A console logger that rounds every value to three decimals turns a KL of 0.0004 into 0.000 and an entropy
drop of a few thousandths into nothing. Such a log is still read, but the reader says so once per run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rankinv.metrics import MetricPoint

MAX_DECIMALS = 3
MIN_VALUES = 8


def _decimals(value: float) -> int:
    for places in range(MAX_DECIMALS + 1):
        if abs(value * 10**places - round(value * 10**places)) < 1e-9 * max(1.0, abs(value) * 10**places):
            return places
    return MAX_DECIMALS + 1


def rounding(points: Iterable[MetricPoint]) -> int | None:
    """The decimals every fractional value is rounded to, when all of at least :data:`MIN_VALUES` of them have
    at most three; None when the log is precise enough (or there is too little to tell)."""
    places = [_decimals(p.value) for p in points if math.isfinite(p.value) and p.value != int(p.value)]
    if len(places) < MIN_VALUES or max(places) > MAX_DECIMALS:
        return None
    return max(places)


def rounding_note(points: Sequence[MetricPoint], source: str) -> str | None:
    """The once-per-run message for a coarsely rounded log, naming metrics that read as exactly zero."""
    places = rounding(points)
    if places is None:
        return None
    zeros = sorted({p.name for p in points if p.value == 0.0})
    tail = f"; {', '.join(zeros[:3])} read as 0 may be small nonzero values" if zeros else ""
    return f"{source}: every value is rounded to {places} decimals{tail}"
