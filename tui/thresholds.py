"""What the curves are drawn against, from the configuration: the stage-2 window and its kill lines. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rankinv.config import Config
from rankinv.store import Series


@dataclass(frozen=True)
class Thresholds:
    baseline_step: int = 10
    decision_step: int = 150
    tau_2: float = 0.5
    max_zero_std: float = 0.9

    @property
    def window(self) -> tuple[int, int]:
        return self.baseline_step, self.decision_step

    @classmethod
    def of(cls, config: Config) -> Thresholds:
        m = config.monitor
        return cls(m.baseline_step, m.decision_step, m.tau_2, config.verdict.max_zero_std)


def baseline(series: Series | None, t: Thresholds) -> float | None:
    """The entropy stage 2 measures drops from: the first finite value logged at or after s0."""
    if series is None:
        return None
    after = (v for s, v in zip(series.steps, series.values, strict=False) if s >= t.baseline_step and math.isfinite(v))
    return next(after, None)


def kill_line(series: Series | None, t: Thresholds) -> float | None:
    """The entropy a τ₂ drop from the baseline reaches: baseline × (1 − τ₂)."""
    base = baseline(series, t)
    return None if base is None else base * (1 - t.tau_2)
