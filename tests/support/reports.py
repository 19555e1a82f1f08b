"""Real stage-1 reports for tests: built by the triage aggregator from per-prompt pass counts (no model)."""

from __future__ import annotations

from pathlib import Path

from rankinv.triage import aggregate
from rankinv.triage.report import Flag, FlagReason, PromptResult, Sampling, Timing, TriageReport


def make_report(checkpoint: str | Path, passes: list[int], n: int = 16, g: int = 8, *,
                flag: Flag | None = None) -> TriageReport:
    """A report of ``len(passes)`` prompts with ``passes[i]`` of ``n`` samples passing, 4 tokens per sample."""
    results = [PromptResult(id=f"p{i}", passes=c, samples=n, pass_rate=c / n, truncated=0, tokens=4 * n,
                            entropy_exact_sum=0.5 * 4 * n, entropy_mc_sum=0.5 * 4 * n) for i, c in enumerate(passes)]
    sampling = Sampling("transformers", n, 1.0, 1.0, 0, 1.0, 4, 0, False, "exact", "toy", len(passes))
    return TriageReport(str(checkpoint), None, "2026-01-01T00:00:00Z", "0", sampling, g, 0.083,
                        aggregate.metrics(results, g), flag or Flag(False, "entropy_token_mean"),
                        Timing(0, 0, 0, 0, 0, 0, 0), tuple(results))


def flagged(message: str = "entropy 0.12 < tau_h 0.18") -> Flag:
    return Flag(True, "entropy_token_mean", (FlagReason("entropy_token_mean", 0.12, 0.18, "<", message),))

