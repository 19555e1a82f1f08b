"""The stage-1 flag: would GRPO from this checkpoint have signal to learn from?

Three independent reasons, thresholds from ``[triage]`` in rankinv.toml:
entropy below ``tau_h`` (0.18 nats is the paper's value, calibrated on one model family: a default to
re-calibrate, not a constant); headroom (mean pass rate / p*(g)) below ``min_headroom``; expected
degenerate-group fraction above ``max_degenerate_fraction``. A low-entropy checkpoint fails by
collapse, a low-headroom one by never passing; the degenerate fraction sees both.
"""

from __future__ import annotations

import math

from rankinv.config import TriageConfig
from rankinv.errors import RankinvError
from rankinv.stats import Interval
from rankinv.triage.report import Flag, FlagReason, Metrics

ENTROPY_BASES = ("rollout", "probe")


def flag_entropy(metrics: Metrics, basis: str) -> tuple[str, Interval | None]:
    """The entropy the tau_h test reads: (name, interval); rollout means exact if measured, else Monte-Carlo."""
    if basis not in ENTROPY_BASES:
        raise RankinvError(f"[triage] flag_entropy must be one of {', '.join(ENTROPY_BASES)}, got {basis!r}")
    if basis == "probe" and metrics.entropy_probe is not None:
        return "entropy_probe", metrics.entropy_probe
    if metrics.entropy_token_mean is not None:
        return "entropy_token_mean", metrics.entropy_token_mean
    return "entropy_monte_carlo", metrics.entropy_monte_carlo


def stage1_flag(metrics: Metrics, config: TriageConfig) -> Flag:
    name, entropy = flag_entropy(metrics, config.flag_entropy)
    checks = [
        (name, entropy, config.tau_h, "<", "rollouts have collapsed: GRPO groups will agree and carry no gradient"),
        ("headroom", metrics.headroom, config.min_headroom, "<",
         "pass rate is below p*(g): most groups will all fail"),
        ("degenerate_fraction", metrics.degenerate_fraction, config.max_degenerate_fraction, ">",
         "most GRPO groups will have identical rewards (TRL frac_reward_zero_std)"),
    ]
    reasons = [_reason(m, iv, t, op, why) for m, iv, t, op, why in checks if iv is not None and _trips(iv, t, op)]
    return Flag(bool(reasons), name, tuple(reasons))


def _trips(interval: Interval, threshold: float, comparison: str) -> bool:
    value = interval.estimate
    if math.isnan(value):
        return False
    return value < threshold if comparison == "<" else value > threshold


def _reason(metric: str, interval: Interval, threshold: float, comparison: str, why: str) -> FlagReason:
    message = f"{metric} {interval} {comparison} {threshold:g}: {why}"
    return FlagReason(metric, interval.estimate, threshold, comparison, message)
