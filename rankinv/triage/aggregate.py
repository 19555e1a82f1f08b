"""Per-prompt rollouts and scores → per-prompt results and headline metrics with bootstrap intervals.

Pure numpy over the science core (:mod:`rankinv.advantage`, :mod:`rankinv.passk`, :mod:`rankinv.stats`).
Every interval resamples prompts; ratio-of-sums entropies resample (sum, count) pairs so long
completions keep their weight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from rankinv import advantage, passk
from rankinv.stats import Interval, bootstrap_ci
from rankinv.triage.backends.base import Rollout
from rankinv.triage.report import Metrics, PromptResult
from rankinv.triage.rewards import Score

FloatArray = npt.NDArray[np.float64]


def prompt_result(
    prompt_id: str, rollouts: Sequence[Rollout], scores: Sequence[Score], probe: FloatArray | None = None
) -> PromptResult:
    """Summarise one prompt's n rollouts: passes, truncation, entropy sums."""
    passes = sum(s.passed for s in scores)
    exact = [r.entropies for r in rollouts]
    has_exact = all(e is not None for e in exact)
    seq_means = [float(np.mean(e)) for e in exact if e]
    return PromptResult(
        id=prompt_id,
        passes=passes,
        samples=len(scores),
        pass_rate=passes / len(scores),
        truncated=sum(r.truncated for r in rollouts),
        tokens=sum(len(r.logprobs) for r in rollouts),
        statuses=dict(Counter(s.status for s in scores)),
        entropy_exact_sum=float(sum(sum(e) for e in exact if e)) if has_exact else None,
        entropy_mc_sum=float(-sum(sum(r.logprobs) for r in rollouts)),
        entropy_sequence_mean=float(np.mean(seq_means)) if has_exact and seq_means else None,
        probe_tokens=0 if probe is None else int(probe.size),
        entropy_probe_sum=None if probe is None else float(probe.sum()),
    )


def _ratio(x: FloatArray) -> float:
    total = float(x[:, 1].sum())
    return float(x[:, 0].sum()) / total if total > 0 else float("nan")


def ratio_interval(sums: Sequence[float], counts: Sequence[float], seed: int = 0) -> Interval | None:
    """Bootstrap interval of sum(sums) / sum(counts) over prompts; None when there are no tokens."""
    pairs = np.column_stack([np.asarray(sums, dtype=np.float64), np.asarray(counts, dtype=np.float64)])
    if pairs.size == 0 or pairs[:, 1].sum() == 0:
        return None
    return bootstrap_ci(pairs, _ratio, seed=seed)


def _ci(seed: int, values: npt.ArrayLike) -> Interval:
    return bootstrap_ci(values, seed=seed)


def _complete(values: Sequence[float | None]) -> list[float] | None:
    """The values, or None when any prompt lacks one (that entropy was not recorded)."""
    present = [v for v in values if v is not None]
    return present if len(present) == len(values) else None


def _degenerate(c: int, n: int, g: int) -> float:
    if n >= g:
        return advantage.unbiased_degenerate_probability(c, n, g)
    return advantage.degenerate_probability(c / n, g)


def metrics(results: Sequence[PromptResult], g: int, seed: int = 0) -> Metrics:
    """Headline metrics at group size ``g``, each with a bootstrap interval over prompts."""
    c = np.array([r.passes for r in results])
    n = np.array([r.samples for r in results])
    ps = advantage.p_star(g)
    rates = c / n
    degenerate = np.array([_degenerate(int(ci), int(ni), g) for ci, ni in zip(c, n, strict=True)])
    pass1 = _ci(seed, rates)
    tokens = [r.tokens for r in results]
    exact = _complete([r.entropy_exact_sum for r in results])
    probe = _complete([r.entropy_probe_sum for r in results])
    seq = [r.entropy_sequence_mean for r in results]
    return Metrics(
        pass_at_1=pass1,
        pass_at_k={str(k): _ci(seed, passk.pass_at_k(n, c, k)) for k in _ks(int(n.min()))},
        expected_advantage_variance=_ci(seed, [advantage.unbiased_expected_variance(int(a), int(b), g)
                                           for a, b in zip(c, n, strict=True)]),
        expected_scaled_variance=_ci(seed, (g - 1) / g * (1.0 - degenerate)),
        degenerate_fraction=_ci(seed, degenerate),
        fraction_below_p_star=_ci(seed, (rates < ps).astype(np.float64)),
        never_solved_fraction=_ci(seed, (c == 0).astype(np.float64)),
        headroom=Interval(pass1.estimate / ps, pass1.lo / ps, pass1.hi / ps, pass1.confidence),
        truncation_rate=_ci(seed, [r.truncated / r.samples for r in results]),
        entropy_token_mean=None if exact is None else ratio_interval(exact, tokens, seed),
        entropy_per_sequence=None if None in seq else _ci(seed, np.array(seq, dtype=np.float64)),
        entropy_monte_carlo=ratio_interval([r.entropy_mc_sum for r in results], tokens, seed)
        or Interval(float("nan"), float("nan"), float("nan")),
        entropy_probe=None if probe is None else ratio_interval(probe, [r.probe_tokens for r in results], seed),
    )


def _ks(n: int) -> list[int]:
    """Powers of two up to n, and n itself."""
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ks if n in ks else [*ks, n]
