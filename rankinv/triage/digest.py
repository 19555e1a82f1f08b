"""A stage-1 report's :class:`~rankinv.messages.TriageSummary`: the numbers the store keeps for the ranking.

The entropy, pass rates and signal measures are the predictor's own reading of the report
(:func:`rankinv.predict.features_from_report`), so the ranking shows what the prediction used.
"""

from __future__ import annotations

from rankinv.messages import TriageSummary, finite_or_none
from rankinv.predict import features_from_report
from rankinv.stats import Interval
from rankinv.triage.report import TriageReport


def _estimate(interval: Interval | None) -> float | None:
    return None if interval is None else finite_or_none(interval.estimate)


def summarize(report: TriageReport) -> TriageSummary:
    f, m = features_from_report(report), report.metrics
    return TriageSummary(
        flagged=bool(report.flag.flagged), entropy_basis=report.flag.entropy_basis,
        flag_messages=tuple(r.message for r in report.flag.reasons), group_size=int(report.group_size),
        p_star=float(report.p_star), entropy=finite_or_none(f.entropy), pass1=finite_or_none(f.pass1),
        headroom=finite_or_none(f.headroom), expected_variance=finite_or_none(f.expected_variance),
        degenerate_fraction=finite_or_none(f.degenerate_fraction),
        never_solved_fraction=finite_or_none(f.never_solved_fraction),
        entropy_token_mean=_estimate(m.entropy_token_mean), entropy_probe=_estimate(m.entropy_probe),
        pass_at_k=f.pass_at_k, pass_rates=tuple(float(p.pass_rate) for p in report.prompts),
    )  # fmt: skip
