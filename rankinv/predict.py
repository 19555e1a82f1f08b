"""Predicted final pass@10 of a candidate (an SFT checkpoint before RL, or a GRPO run in flight).

**The prior** (no history needed). GRPO can only turn what the model already samples into pass@10, and only
through groups whose rewards differ, and only while it has entropy left to spend. So::

    d     = diversity: the share of samples that act as independent tries. From the measured pass@k curve
            (1 - pass@k = (1 - p1)^(1 + (k-1) d) solved at the largest k), else from entropy: 1 - exp(-H / H_s)
    pass@k ≈ 1 - (1 - p1)^(1 + (k-1) d)                  (used wherever pass@k was not measured)
    pre    = pass@10 before RL;  C = the coverage RL can sharpen into pass@10: pass@K at the largest measured
            K >= 10, else the formula at K = 64 (the paper's pass@64)
    s      = share of groups with signal: 1 - measured degenerate fraction at g, else 1 - f(p1) at g_eff = 1+(g-1)d
    B      = e^H - 1: the exploration budget (Cui et al. 2025: reward gained while entropy falls is a(e^H0 - e^H))
    L      = 1 - exp(-s B / (e^H_s - 1))                  (learnability: signal times budget, saturating)
    R      = the mean over prompts of pre_i + s_i (C_i - pre_i) + s (1 - C_i), never below pre: the reach. A
            covered prompt is sharpened from its pass@10 toward its pass@K only through its own groups that differ
            (s_i = 1 - its unbiased degenerate probability at g); the policy's parameters are shared, so what GRPO
            learns from the prompts whose groups differ also moves prompts it never solved, an uncovered one
            reached with the probability that a prompt gives gradient at all (s). Without counts s_i = s:
            R = pre + s (1 - pre).
    final  = pre + (R - pre) L

H_s is the paper's collapse threshold τ_H = 0.18 nats (``[predict] entropy_scale``), not fitted to any table.
Both sides of the SFT-depth hump are seen: too little SFT gives p below p*(g), so s ≈ 0 and C small; too much
collapses entropy, so d, B and L shrink and groups agree; a collapsed rung's uncovered prompts stay out of reach
(s and L small), a middle rung's are reached through its mixed groups. When the pass rates of a ladder are
similar and well above p*(g) (the paper's Qwen ladder) the saturating signal term leaves entropy to decide the
order; where pass rates differ a lot, coverage and signal decide it. Limits: with only means known (no per-prompt
counts) every prompt is taken to sharpen at the mean share s, so coverage drops out of the reach; the absolute
level is a prior, not a calibrated number; the prior knows nothing of the RL run's learning rate or length (in a
short run GRPO spends the diversity a middle rung's pass@10 rests on, so it over-predicts those rungs).

**Trajectory** (once RL runs): the entropy–performance law R = -a e^H + b (Cui et al. 2025) is fitted
(Theil–Sen) on the run's own (entropy, reward) points; R∞ = b - a is the reward when entropy is spent, read as
pass@10 at the run's current diversity, and blended with the prior by weight n / (n + trajectory_points).

**Fitted**: with enough finished runs with a measured pass@10, ridge regression on standardised features (the
prior's terms, entropy, and the RL baseline entropy and drop when known), with leave-one-out Spearman and MAE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from rankinv.config import PredictConfig
from rankinv.monitor import MonitorResult
from rankinv.monitor import _thin as thin
from rankinv.stats import spearman, theil_sen

FloatArray = npt.NDArray[np.float64]
NAN = math.nan


@dataclass(frozen=True)
class Features:
    """What is known about a candidate before (and, for runs, early in) RL. NaN means unknown."""

    name: str = ""
    group_size: int = 8
    pass_at_k: tuple[tuple[int, float], ...] = ()
    """Mean pass@k at the sampling temperature, (k, value) pairs; k=1 is the mean pass rate."""
    entropy: float = NAN
    degenerate_fraction: float = NAN
    never_solved_fraction: float = NAN
    headroom: float = NAN
    expected_variance: float = NAN
    rl_entropy_start: float = NAN
    """Entropy at the RL baseline step (the paper's strongest single predictor, Spearman +0.82)."""
    rl_drop: float = NAN
    pass_at_k_hi: tuple[tuple[int, float], ...] = ()
    """Upper ends of the measured pass@k intervals (bootstrap over prompts), where the triage report has them."""
    prompt_counts: tuple[tuple[int, int], ...] = ()
    """(passes, samples) of every triage prompt: coverage and the group signal are then read per prompt."""
    sft_eval_loss: float = NAN
    """The SFT run's held-out loss at the checkpoint (Kang et al. 2025's generalization loss)."""
    sft_eval_loss_rise: float = NAN
    """That loss over the lowest the SFT run logged up to the checkpoint (above 1: past its best)."""

    @property
    def pass1(self) -> float:
        return dict(self.pass_at_k).get(1, NAN)


@dataclass(frozen=True)
class Prediction:
    """Predicted final pass@k with an interval and the basis it came from."""

    estimate: float
    lo: float
    hi: float
    basis: str
    terms: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        """The point lies in its own interval (an interval is widened to hold its point, never the reverse)."""
        if math.isfinite(self.estimate):
            object.__setattr__(self, "lo", min(self.lo, self.estimate) if math.isfinite(self.lo) else self.lo)
            object.__setattr__(self, "hi", max(self.hi, self.estimate) if math.isfinite(self.hi) else self.hi)

    def __str__(self) -> str:
        if not math.isfinite(self.estimate):
            return f"n/a ({self.basis})"
        return f"{self.estimate:.3f} [{self.lo:.3f}, {self.hi:.3f}] ({self.basis})"


def features_from_counts(
    passes: npt.ArrayLike, samples: npt.ArrayLike, group_size: int, entropy: float = NAN, name: str = ""
) -> Features:
    """Features from per-prompt pass counts, with the unbiased estimators of ``rankinv.advantage``/``passk``."""
    from rankinv.advantage import group_signal
    from rankinv.passk import pass_at_k_curve

    sig = group_signal(passes, samples, group_size)
    n_min = int(np.min(np.asarray(samples)))
    powers = {1 << i for i in range(n_min.bit_length()) if 1 << i <= n_min}
    ks = sorted(powers | {n_min} | ({10} if n_min >= 10 else set()))
    curve = pass_at_k_curve(samples, passes, ks)
    return Features(
        name=name, group_size=group_size, pass_at_k=tuple(sorted(curve.items())), entropy=entropy,
        degenerate_fraction=sig.degenerate_fraction, never_solved_fraction=sig.never_solved_fraction,
        headroom=sig.headroom, expected_variance=sig.mean_expected_variance,
        prompt_counts=tuple(zip(np.asarray(passes).tolist(), np.broadcast_to(samples, np.shape(passes)).tolist(),
                                strict=True)),
    )


def _estimate(interval: Any) -> float:
    value = getattr(interval, "estimate", None)
    return float(value) if value is not None else NAN


def _report_entropy(metrics: Any, basis: str) -> float:
    """The entropy the report's own stage-1 flag read, else probe, token-mean, Monte-Carlo in that order."""
    names = (basis, "entropy_probe", "entropy_token_mean", "entropy_monte_carlo")
    values = [_estimate(getattr(metrics, n, None)) for n in names]
    return next((v for v in values if math.isfinite(v)), NAN)


def features_from_report(report: Any, name: str = "") -> Features:
    """Features from a ``rankinv.triage.report.TriageReport`` (duck-typed: the core does not import triage)."""
    m = report.metrics
    curve = {1: _estimate(m.pass_at_1), **{int(k): _estimate(v) for k, v in m.pass_at_k.items()}}
    highs = {int(k): float(getattr(v, "hi", NAN)) for k, v in m.pass_at_k.items()}
    return Features(
        name=name or str(report.checkpoint), group_size=int(report.group_size),
        pass_at_k=tuple(sorted((k, v) for k, v in curve.items() if math.isfinite(v))),
        entropy=_report_entropy(m, report.flag.entropy_basis),
        degenerate_fraction=_estimate(m.degenerate_fraction), never_solved_fraction=_estimate(m.never_solved_fraction),
        headroom=_estimate(m.headroom), expected_variance=_estimate(m.expected_advantage_variance),
        pass_at_k_hi=tuple(sorted((k, v) for k, v in highs.items() if math.isfinite(v))),
        prompt_counts=tuple((int(r.passes), int(r.samples)) for r in getattr(report, "prompts", ()) if r.samples),
        **_sft_fields(getattr(report, "sft", None)),
    )


def _sft_fields(sft: Any) -> dict[str, float]:
    if sft is None:
        return {}
    return {"sft_eval_loss": float(sft.eval_loss), "sft_eval_loss_rise": float(sft.eval_loss_rise)}


def at_group_size(f: Features, g: int) -> Features:
    """The features for a run whose group size is ``g``: the degenerate fraction re-read from the per-prompt
    counts at that g (a triage at g=8 says nothing exact about a run at g=4 otherwise)."""
    if g == f.group_size or not f.prompt_counts:
        return replace(f, group_size=g)
    from rankinv.advantage import group_signal

    passes, samples = zip(*f.prompt_counts, strict=True)
    sig = group_signal(passes, samples, g)
    return replace(f, group_size=g, degenerate_fraction=sig.degenerate_fraction, headroom=sig.headroom,
                   expected_variance=sig.mean_expected_variance)  # fmt: skip


def _pass_at(k: float, p1: float, d: float) -> float:
    return float(1.0 - (1.0 - p1) ** (1.0 + (k - 1.0) * d))


def _diversity(f: Features, cfg: PredictConfig) -> tuple[float, bool]:
    """(d, measured): from the pass@k curve's largest informative k, else from entropy, else 1."""
    p1 = f.pass1
    usable = [(k, v) for k, v in f.pass_at_k if k > 1 and 0 < p1 < v < 1]
    if usable and 0 < p1 < 1:
        k, pk = max(usable)
        return min(1.0, max(0.0, (math.log1p(-pk) / math.log1p(-p1) - 1.0) / (k - 1))), True
    if math.isfinite(f.entropy):
        return 1.0 - math.exp(-max(f.entropy, 0.0) / cfg.entropy_scale), False
    return 1.0, False


def _signal(f: Features, p1: float, d: float) -> tuple[float, bool]:
    if math.isfinite(f.degenerate_fraction):
        return 1.0 - f.degenerate_fraction, True
    g_eff = 1.0 + (f.group_size - 1) * d
    return 1.0 - (p1**g_eff + (1.0 - p1) ** g_eff), False


def _measured_or_model(f: Features, k: int, p1: float, d: float) -> tuple[float, bool]:
    """pass@k: measured in the curve, else the mean of each prompt's unbiased pass@k when every prompt has at
    least k samples, else the diversity model."""
    curve = dict(f.pass_at_k)
    if k in curve:
        return curve[k], True
    if f.prompt_counts and min(n for _, n in f.prompt_counts) >= k:
        from rankinv.passk import pass_at_k_single

        return float(np.mean([pass_at_k_single(n, c, k) for c, n in f.prompt_counts])), True
    return _pass_at(k, p1, d), False


def _coverage(f: Features, cfg: PredictConfig, p1: float, d: float) -> tuple[float, bool]:
    """Per prompt when the counts are known: the mean of each prompt's own unbiased pass@K at K = min(n,
    ``coverage_k``), never extrapolated past its samples (a never-solved prompt adds 0). Else pass@K at the
    largest measured K >= k, else the homogeneous model at ``coverage_k`` from the mean pass rate (which
    over-states coverage when pass rates differ across prompts)."""
    if f.prompt_counts:
        from rankinv.passk import pass_at_k_single

        return float(np.mean([pass_at_k_single(n, c, min(n, cfg.coverage_k)) for c, n in f.prompt_counts])), True
    measured = [(k, v) for k, v in f.pass_at_k if k >= cfg.k]
    if measured:
        return max(measured)[1], True
    return _pass_at(cfg.coverage_k, p1, d), False


def prior(f: Features, config: PredictConfig | None = None) -> Prediction:
    """The documented prior (module docstring): pre + (R - pre) * L, R = the mean of pre_i + s_i (C_i - pre_i)
    + s (1 - C_i)."""
    cfg = config or PredictConfig()
    p1 = f.pass1
    if not 0.0 <= p1 <= 1.0:
        return Prediction(NAN, NAN, NAN, "prior: no pass rate known")
    d, d_measured = _diversity(f, cfg)
    pre, pre_m = _measured_or_model(f, cfg.k, p1, d)
    cov, cov_m = _coverage(f, cfg, p1, d)
    cov = max(cov, pre)
    s, s_m = _signal(f, p1, d)
    h = f.entropy if math.isfinite(f.entropy) else -cfg.entropy_scale * math.log(max(1.0 - d, 1e-9))
    budget = math.expm1(max(h, 0.0))
    learn = 1.0 - math.exp(-s * budget / math.expm1(cfg.entropy_scale))
    per = prompt_terms(f, cfg)
    reach = _reach(per, pre, cov, s)
    est = pre + (reach - pre) * learn
    estimated = sum(not m for m in (d_measured or math.isfinite(f.entropy), pre_m, cov_m, s_m))
    half = cfg.halfwidth * (1.0 + estimated / 4)
    terms: tuple[tuple[str, float], ...] = (
        ("pre", pre), ("coverage", cov), ("reach", reach), ("diversity", d), ("signal", s), ("budget", budget),
        ("learn", learn))
    if f.prompt_counts:  # the stated model of uncertainty (prompt sampling, seeds, the prior's own error)
        sd = _prediction_sd(per, cfg, learn, s)
        z = NormalDist().inv_cdf(0.5 + cfg.interval_level / 2)
        terms = (*terms, ("sd", sd))
        return Prediction(est, max(0.0, est - z * sd), min(1.0, est + z * sd), "prior", terms)
    lo, hi = max(0.0, est - half), min(1.0, est + half)
    if _mean_only(f):
        return Prediction(est, min(lo, p1), hi, MEAN_ONLY, terms)
    ceiling = _measured_ceiling(f, cfg) if cov_m else NAN
    if math.isfinite(ceiling):  # RL sharpens what the checkpoint samples: its measured pass@K (K >= k) bounds it
        hi = min(hi, max(ceiling, est))
        terms = (*terms, ("ceiling", ceiling))
    return Prediction(est, lo, hi, _beyond_measured(f, hi, math.isfinite(ceiling), "prior"), terms)


MEAN_ONLY = "mean only"  # short enough for the TUI's basis column


def _mean_only(f: Features) -> bool:
    """Only a mean pass rate is known (no triage, no pass@k, no entropy: a run whose logs carry reward alone).

    The prior then takes every sample as an independent try (d = 1), the most pass@10 that mean allows. With
    prompts that are all solved or never solved, pass@10 is the mean itself, and so is the prior (no group
    differs, s = 0): the interval reaches down to it, so that the ranking's guess is not read as knowledge."""
    return not f.prompt_counts and not math.isfinite(f.entropy) and all(k == 1 for k, _ in f.pass_at_k)


def _gain(pre: float, coverage: float, own_signal: float, signal: float) -> float:
    """What RL adds to a prompt's pass@10 at full learnability: its covered part sharpened from ``pre`` toward
    its ``coverage`` through its own groups that differ (``own_signal``), its uncovered part reached through the
    prompts that give gradient (the policy's parameters are shared, so what GRPO learns from a mixed group also
    moves prompts it never solved), with the probability that a prompt gives gradient at all (``signal``)."""
    return own_signal * (coverage - pre) + signal * (1.0 - coverage)


def _reach(per_prompt: Sequence[tuple[float, float, float]], pre: float, coverage: float, signal: float) -> float:
    """What RL can turn into pass@10: the mean over prompts of pre_i + gain_i (each at most 1), never below
    ``pre`` (with fewer than k samples a prompt's pre_i is its pass@n, below the modelled pass@k); from the
    means alone, pre + gain at s_i = s."""
    if not per_prompt:
        return pre + _gain(pre, coverage, signal, signal)
    return max(pre, float(np.mean([q + _gain(q, c, own, signal) for q, c, own in per_prompt])))


def prompt_terms(f: Features, cfg: PredictConfig) -> list[tuple[float, float, float]]:
    """(pre_i, C_i, s_i) of every prompt: its own unbiased pass@k at k = min(n, ``k``), its pass@K at K = min(n,
    ``coverage_k``) (never below pre_i), and 1 - its degenerate probability at the features' g (unbiased when
    n >= g, else the plug-in at c / n: as ``rankinv.advantage.group_signal`` reads the same counts)."""
    from rankinv.advantage import degenerate_probability, unbiased_degenerate_probability
    from rankinv.passk import pass_at_k_single

    g, out = f.group_size, []
    for c, n in f.prompt_counts:
        pre = pass_at_k_single(n, c, min(n, cfg.k))
        deg = unbiased_degenerate_probability(c, n, g) if n >= g else degenerate_probability(c / n, g)
        out.append((pre, max(pass_at_k_single(n, c, min(n, cfg.coverage_k)), pre), 1.0 - deg))
    return out


def _prediction_sd(per_prompt: Sequence[tuple[float, float, float]], cfg: PredictConfig, learn: float,
                   signal: float) -> float:
    """Standard deviation of the prior's error under the stated model (README "Intervals"): three independent
    parts added in quadrature — which prompts were drawn (the standard error, over prompts, of each prompt's own
    pre_i + (R_i - pre_i) L), GRPO's between-seed spread (``seed_spread``) and the prior's own misfit
    (``prior_error``), both measured on development ladders."""
    per = [pre + _gain(pre, cov, own, signal) * learn for pre, cov, own in per_prompt]
    se = float(np.std(per, ddof=1) / math.sqrt(len(per))) if len(per) > 1 else 0.0
    return math.sqrt(se**2 + cfg.seed_spread**2 + cfg.prior_error**2)


def _measured_ceiling(f: Features, cfg: PredictConfig) -> float:
    """Upper end of the interval of pass@K at the largest measured K >= k (NaN when the report has none)."""
    highs = [(k, v) for k, v in f.pass_at_k_hi if k >= cfg.k]
    return max(highs)[1] if highs else NAN


def _beyond_measured(f: Features, hi: float, ceiling_measured: bool, basis: str) -> str:
    """The basis, saying so when the upper bound claims more than the largest measured pass@K shows."""
    measured = [(k, v) for k, v in f.pass_at_k if k > 1]
    if ceiling_measured or not measured:
        return basis
    k, v = max(measured)
    if hi <= v:
        return basis
    return f"{basis}; upper bound above the measured pass@{k} {v:.2f}: more samples per prompt would measure it"


def _medians(y: FloatArray, x: FloatArray, slopes: Sequence[float]) -> list[float]:
    """``float(np.median(y - s * x))`` for each s, in a few NumPy calls for all of them (the trajectory takes
    three per judgement): the same residuals and middle values (sorted, not partitioned), averaged as
    ``np.median`` averages them."""
    if not slopes:
        return []
    r = y - np.asarray(slopes, dtype=np.float64)[:, None] * x
    if not np.isfinite(r).all():  # np.median's NaN rule
        return [float(np.median(row)) for row in r]
    r.sort(axis=1)
    mid = r.shape[1] // 2
    # np.median's mean adds to +0.0 (a middle -0.0 comes out +0.0)
    med = r[:, mid] + 0.0 if r.shape[1] % 2 else (r[:, mid - 1] + r[:, mid] + 0.0) / 2
    return [float(v) for v in med]


def trajectory(
    monitor: MonitorResult, config: PredictConfig | None = None, *, diversity: float = NAN, coverage: float = 1.0
) -> Prediction | None:
    """Entropy–performance law fitted on the run's own points; None with fewer than 5 points. The slope is
    Theil–Sen on at most ``rankinv.monitor.MAX_SLOPE_POINTS`` of them, evenly spread (quadratic in its points).

    R at spent entropy is read as pass@k with the candidate's own ``diversity`` (from its triage pass@k curve),
    never more than the run's current entropy allows, capped at ``coverage`` (the prior's reach: what RL can turn
    into pass@10).
    """
    cfg = config or PredictConfig()
    pairs = np.asarray(monitor.entropy_reward, dtype=np.float64)
    if pairs.shape[0] < 5 or not math.isfinite(monitor.entropy_now):
        return None
    x, y = np.exp(pairs[:, 0]), pairs[:, 1]
    fit = monitor.entropy_reward_fit  # the same fit, when the daemon's live monitor holds it
    if fit is None:
        fit = theil_sen(*thin(x, y))  # at most MAX_SLOPE_POINTS, evenly spread: the cost stays bounded as RL runs on
    flat = not fit.hi < 0  # reward not clearly rising as entropy falls: the law does not (yet) describe the run
    # R at H = 0 (x = 1) for the slope and its interval bounds; the current reward level when the law is absent
    slopes = () if flat else (fit.slope, fit.lo, fit.hi)
    ends = [m + s for m, s in zip(_medians(y, x, slopes), slopes, strict=True)] or [monitor.reward_now] * 3
    # A run cannot sample more diversely than its entropy now allows: a collapsed run's samples are one try.
    d_now = 1.0 - math.exp(-max(monitor.entropy_now, 0.0) / cfg.entropy_scale)
    d = min(diversity, d_now) if math.isfinite(diversity) else d_now
    vals = [min(coverage, _pass_at(cfg.k, min(1.0, max(0.0, r)), d)) for r in ends]
    a = NAN if flat else -fit.slope
    terms = (("reward_at_spent_entropy", min(1.0, max(0.0, ends[0]))), ("a", a), ("points", float(pairs.shape[0])))
    return Prediction(vals[0], min(vals), max(vals), "trajectory", terms)


def with_rl_start(f: Features, m: MonitorResult) -> Features:
    """Add the run's RL baseline entropy and drop; without a triage report, read the opening reward as pass@1
    and the baseline entropy as the entropy (rollout entropy: a different scale from the paper's probe)."""
    changes: dict[str, Any] = {"rl_entropy_start": m.baseline, "rl_drop": m.drop_at_decision}
    if not 0.0 <= f.pass1 <= 1.0 and 0.0 <= m.reward_start <= 1.0:
        changes["pass_at_k"] = ((1, m.reward_start), *f.pass_at_k)
    if not math.isfinite(f.entropy) and math.isfinite(m.baseline):
        changes["entropy"] = m.baseline
    return replace(f, **changes)  # one copy (the daemon makes one per judgement)


def _blend(a: Prediction, b: Prediction, w: float) -> Prediction:
    def mix(u: float, v: float) -> float:
        return (1 - w) * u + w * v

    terms = (*a.terms, *b.terms, ("trajectory_weight", w))
    basis, _, note = a.basis.partition("; ")
    basis = f"{basis}+trajectory" + (f"; {note}" if note else "")
    return Prediction(mix(a.estimate, b.estimate), mix(a.lo, b.lo), mix(a.hi, b.hi), basis, terms)


def predict(
    features: Features,
    monitor: MonitorResult | None = None,
    model: FittedModel | None = None,
    config: PredictConfig | None = None,
) -> Prediction:
    """The best available prediction: fitted on history if a model is given, else the prior; plus the run's
    trajectory when RL has logged enough points."""
    cfg = config or PredictConfig()
    if monitor is not None:
        features = with_rl_start(features, monitor)
    first = prior(features, cfg)
    base = model.predict(features, cfg) if model is not None else first
    terms = dict(first.terms)
    traj = None if monitor is None else trajectory(
        monitor, cfg, diversity=terms.get("diversity", NAN), coverage=terms.get("reach", 1.0))
    if traj is None or not math.isfinite(base.estimate):
        return base
    n = float(len(monitor.entropy_reward)) if monitor is not None else 0.0
    return _blend(base, traj, n / (n + cfg.trajectory_points))


COLUMNS = ("prior", "pass1", "entropy", "signal", "coverage", "never_solved", "rl_entropy_start", "rl_drop",
           "sft_eval_loss", "sft_eval_loss_rise")


def _row(f: Features, cfg: PredictConfig) -> list[float]:
    p = prior(f, cfg)
    terms = dict(p.terms)
    return [p.estimate, f.pass1, f.entropy, terms.get("signal", NAN), terms.get("coverage", NAN),
            f.never_solved_fraction, f.rl_entropy_start, f.rl_drop, f.sft_eval_loss, f.sft_eval_loss_rise]


@dataclass(frozen=True)
class FittedModel:
    """Ridge regression on standardised features, fitted on finished runs; NaN inputs take the training mean."""

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    n: int
    loo_spearman: float
    loo_mae: float
    halfwidth: float

    def predict(self, f: Features, config: PredictConfig | None = None) -> Prediction:
        row = dict(zip(COLUMNS, _row(f, config or PredictConfig()), strict=True))
        x = np.array([row[c] for c in self.columns])
        mean, scale = np.array(self.mean), np.array(self.scale)
        z = np.where(np.isfinite(x), (x - mean) / scale, 0.0)
        est = min(1.0, max(0.0, float(self.intercept + z @ np.array(self.coef))))  # a pass rate: never outside [0, 1]
        basis = f"fitted on {self.n} runs (LOO Spearman {self.loo_spearman:+.2f}, MAE {self.loo_mae:.3f})"
        return Prediction(est, max(0.0, est - self.halfwidth), min(1.0, est + self.halfwidth), basis)


def _ridge(x: FloatArray, y: FloatArray, penalty: float) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """(mean, scale, coef, intercept) of ridge on standardised columns, NaN imputed by the column mean."""
    mean = np.nanmean(x, axis=0)
    filled = np.where(np.isfinite(x), x, mean)
    scale = filled.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (filled - mean) / scale
    coef = np.linalg.solve(z.T @ z + penalty * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return mean, scale, coef, float(y.mean())


def fit(history: Sequence[tuple[Features, float]], config: PredictConfig | None = None) -> FittedModel:
    """Fit on (features, measured final pass@10) pairs; raises ValueError below ``min_history`` runs."""
    cfg = config or PredictConfig()
    rows = [(_row(f, cfg), y) for f, y in history if math.isfinite(y)]
    if len(rows) < max(cfg.min_history, 3):
        raise ValueError(f"fitting needs at least {max(cfg.min_history, 3)} finished runs with a measured pass@10, "
                         f"found {len(rows)}")
    x_all = np.array([r for r, _ in rows], dtype=np.float64)
    keep = [i for i in range(x_all.shape[1]) if np.isfinite(x_all[:, i]).sum() >= 2]
    x, y = x_all[:, keep], np.array([v for _, v in rows])
    loo = np.array([_loo_one(x, y, i, cfg.ridge) for i in range(y.size)])
    mean, scale, coef, intercept = _ridge(x, y, cfg.ridge)
    resid = np.abs(loo - y)
    return FittedModel(
        columns=tuple(COLUMNS[i] for i in keep), mean=tuple(mean.tolist()), scale=tuple(scale.tolist()),
        coef=tuple(coef.tolist()), intercept=intercept, n=int(y.size), loo_spearman=spearman(loo, y),
        loo_mae=float(resid.mean()), halfwidth=float(np.quantile(resid, 0.9)),
    )


def _loo_one(x: FloatArray, y: FloatArray, i: int, penalty: float) -> float:
    mask = np.arange(y.size) != i
    mean, scale, coef, intercept = _ridge(x[mask], y[mask], penalty)
    z = np.where(np.isfinite(x[i]), (x[i] - mean) / scale, 0.0)
    return float(intercept + z @ coef)
