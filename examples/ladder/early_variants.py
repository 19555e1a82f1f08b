"""Every early-RL variant tried for the sixth held-out set, scored on development data only:
``python -m examples.ladder.early_variants``.

Each variant is the one evaluation path (``rankinv.evaluate.evaluate_run``) on a rung's RL log cut at a scored step
(:func:`examples.ladder.early.steps_for`) with one part of the predictor replaced for the duration of the call:
the trajectory's cap or diversity (D, E), the prior's signal or budget read from the run (K, M), its reach (T), or
a correction by the run's measured all-fail share b against the checkpoint's expected b0 = mean over prompts of
C(n - c, g) / C(n, g) (G, H, R, C). Nothing here changes a prediction the product makes: the replacements are
undone after each call, and the unchanged code is scored beside them. Development ladders only, as
``VALIDATION.md`` ("Sixth held-out set") fixed them before the set was read: hump seeds 0, 1 and 5-16, digits
seeds 3-5 at 30 and 60 GRPO steps. Prints the rows of that section's table (mean Spearman per task at the three
steps); ``tests/test_ladder_evidence.py`` checks the table against them.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from math import comb
from pathlib import Path
from typing import Any

import numpy as np

from examples.ladder.early import archive_of, prefix, steps_for
from examples.ladder.evidence import RESULTS, load, rho
from rankinv.config import Config
from rankinv.evaluate import Evaluation, evaluate_run, reward_ceiling
from rankinv.monitor import RunSeries

DEV = {"hump": (0, 1, *range(5, 17)), "digits": (3, 4, 5)}
"""The development ladders with archived RL logs when the sixth set's variants were tried."""


@dataclass(frozen=True)
class Rung:
    actual: float
    series: RunSeries
    triage: Any
    manifest: Any


@dataclass(frozen=True)
class DevLadder:
    task: str
    config: Config
    rl_steps: int
    rungs: tuple[Rung, ...]


Variant = Callable[[Evaluation, Rung, Config, int], float]
"""(the unchanged evaluation at the step, the rung, the ladder's config, the step) -> the predicted pass@10."""


def dev_ladders(results: Path = RESULTS) -> list[DevLadder]:
    from examples.ladder.collect import unpack
    from rankinv.assess import load_features, primary_series, start_report
    from rankinv.config import load_config
    from rankinv.ingest.sources import read_manifest

    out = []
    for task, seeds in DEV.items():
        for lad in load(results, task):
            if lad.seed not in seeds or not archive_of(lad, results).is_file():
                continue
            with tempfile.TemporaryDirectory(prefix="rankinv-early-variants-") as tmp:
                base = unpack(archive_of(lad, results), Path(tmp))
                cfg = load_config(base / "rl" / "rankinv.toml")
                rows = json.loads((base / "ladder.json").read_text(encoding="utf-8"))["rows"]
                rungs = []
                for row, arch in zip(lad.rows, rows, strict=True):
                    run = base / "rl" / Path(arch["run_dir"]).name
                    rungs.append(Rung(row["actual"], primary_series(run, run.name, cfg),
                                      load_features(start_report(run)), read_manifest(run)))
            out.append(DevLadder(task, cfg, lad.rl_steps, tuple(rungs)))
    return out


@contextlib.contextmanager
def patched(name: str, value: Any) -> Iterator[None]:
    """``rankinv.predict.<name>`` replaced by ``value`` inside the block (experiments only)."""
    import rankinv.predict as module

    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def _evaluate(rung: Rung, cfg: Config, step: int) -> Evaluation:
    return evaluate_run(prefix(rung.series, step), rung.triage, cfg, name="rung", manifest=rung.manifest)


def _all_fail(e: Evaluation, rung: Rung, cfg: Config) -> float:
    from rankinv.groups import split

    assert e.monitor is not None
    sp = split(e.monitor.reward_now, e.monitor.zero_std_now, e.features.group_size, reward_ceiling(rung.manifest, cfg))
    return sp.all_fail if sp is not None else math.nan


def _b0(e: Evaluation) -> float:
    """The checkpoint's expected all-fail share at g from its triage counts (unbiased when n >= g)."""
    g = e.features.group_size
    return float(np.mean([comb(n - c, g) / comb(n, g) if n >= g else (1 - c / n) ** g
                          for c, n in e.features.prompt_counts]))


def _per_step_all_fail(rung: Rung, lo: int, hi: int, g: int) -> list[float]:
    from rankinv.groups import split

    reward = dict(zip(rung.series.reward.steps, rung.series.reward.values, strict=True))
    zero = dict(zip(rung.series.zero_std.steps, rung.series.zero_std.values, strict=True))
    out = []
    for t in sorted(reward):
        sp = split(reward[t], zero.get(t, math.nan), g)
        if lo < t <= hi and sp is not None:
            out.append(sp.all_fail)
    return out


def _se2(values: Sequence[float]) -> float:
    return float(np.var(values, ddof=1) / len(values)) if len(values) > 1 else 0.25


def _prior_sd(e: Evaluation, cfg: Config) -> float:
    from rankinv.predict import prior

    return dict(prior(e.features, cfg.predict).terms).get("sd", 0.08)


def _prior(e: Evaluation, cfg: Config) -> float:
    from rankinv.predict import prior

    return prior(e.features, cfg.predict).estimate


def trajectory_variant(cap_at_own_reward: bool, diversity_now: bool) -> Callable[..., Any]:
    """``rankinv.predict.trajectory`` with its cap raised to its own reward at spent entropy (D) and/or its
    diversity the run's current one instead of at most the checkpoint's (E); otherwise the same computation."""
    import rankinv.predict as p
    from rankinv.monitor import _thin
    from rankinv.stats import theil_sen

    def trajectory(monitor: Any, config: Any = None, *, diversity: float = math.nan, coverage: float = 1.0) -> Any:
        cfg = config or p.PredictConfig()
        pairs = np.asarray(monitor.entropy_reward, dtype=np.float64)
        if pairs.shape[0] < 5 or not math.isfinite(monitor.entropy_now):
            return None
        x, y = np.exp(pairs[:, 0]), pairs[:, 1]
        fit = monitor.entropy_reward_fit or theil_sen(*_thin(x, y))
        slopes = () if not fit.hi < 0 else (fit.slope, fit.lo, fit.hi)
        ends = [float(np.median(y - s * x)) + s for s in slopes] or [monitor.reward_now] * 3
        d_now = 1.0 - math.exp(-max(monitor.entropy_now, 0.0) / cfg.entropy_scale)
        d = d_now if diversity_now or not math.isfinite(diversity) else min(diversity, d_now)
        vals = []
        for r in (min(1.0, max(0.0, v)) for v in ends):
            vals.append(min(max(coverage, r) if cap_at_own_reward else coverage, p._pass_at(cfg.k, r, d)))
        return p.Prediction(vals[0], min(vals), max(vals), "trajectory", ())

    return trajectory


def _with_trajectory(cap: bool, now: bool) -> Variant:
    def run(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
        with patched("trajectory", trajectory_variant(cap, now)):
            return _evaluate(rung, cfg, step).prediction.estimate
    return run


def _shift(base: str, weight: str, scale: float = 1.0) -> Variant:
    """base (the unchanged code or the prior alone) + w (b0 - b): w = 1, the trajectory's n / (n + points), or
    the precision weight sd_prior² / (sd_prior² + SE(b)²) (SE from the window's per-step all-fail shares)."""
    def run(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
        assert e.monitor is not None
        est = e.prediction.estimate if base == "code" else _prior(e, cfg)
        if weight == "precision":
            per = _per_step_all_fail(rung, step - cfg.monitor.signal_window, step, e.features.group_size)
            sd = _prior_sd(e, cfg) * scale
            return est + sd**2 / (sd**2 + max(_se2(per), 1e-4)) * (_b0(e) - float(np.mean(per)))
        n = len(e.monitor.entropy_reward)
        w = 1.0 if weight == "one" else n / (n + cfg.predict.trajectory_points)
        return est + w * (_b0(e) - _all_fail(e, rung, cfg))
    return run


def _now(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
    """The run's measured pass@10 now, from its pass@g = 1 - b under the homogeneous reading."""
    return 1.0 - _all_fail(e, rung, cfg) ** (10 / e.features.group_size)


def _max_now(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
    return max(e.prediction.estimate, _now(e, rung, cfg, step))


def _run_signal(pooled: bool) -> Variant:
    """The prior's s from the run's mean zero-std share so far (pooled: with the checkpoint's groups by count,
    taking 4 groups a step)."""
    def run(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
        z_all = [v for t, v in zip(rung.series.zero_std.steps, rung.series.zero_std.values, strict=True) if t <= step]
        z = float(np.mean(z_all))
        f = e.features
        if pooled:
            groups = len(f.prompt_counts) * (min(n for _, n in f.prompt_counts) // f.group_size)
            z = (f.degenerate_fraction * groups + z * 4 * len(z_all)) / (groups + 4 * len(z_all))
        from rankinv.predict import predict

        return predict(replace(f, degenerate_fraction=z), e.monitor, None, cfg.predict).estimate
    return run


def _entropy_ratio(mode: str) -> Variant:
    """The prior's budget from the checkpoint's entropy scaled by the run's own ratio now / baseline step."""
    def run(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
        from rankinv.predict import predict

        m, f = e.monitor, e.features
        assert m is not None
        if not (math.isfinite(m.baseline) and m.baseline > 0 and math.isfinite(f.entropy)):
            return e.prediction.estimate
        ratio = m.entropy_now / m.baseline
        if mode == "budget":
            h = math.log1p(math.expm1(f.entropy) * math.expm1(m.entropy_now) / math.expm1(m.baseline))
        else:
            h = f.entropy * (max(1.0, ratio) if mode == "up" else ratio)
        return predict(replace(f, entropy=h), m, None, cfg.predict).estimate
    return run


def _own_change(weighted: bool) -> Variant:
    """The unchanged code + the fall of the run's all-fail share since its opening window."""
    def run(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
        w, g = cfg.monitor.signal_window, e.features.group_size
        now = _per_step_all_fail(rung, step - w, step, g)
        opening = _per_step_all_fail(rung, 0, step - w, g)[:w]
        if not opening:
            return e.prediction.estimate
        sd = _prior_sd(e, cfg)
        k = sd**2 / (sd**2 + _se2(now) + _se2(opening)) if weighted else 1.0
        return e.prediction.estimate + k * (float(np.mean(opening)) - float(np.mean(now)))
    return run


def _reach_variant(floor_only: bool) -> Variant:
    """The prior's reach with the run's measured pass@g: as its coverage where larger (T), or as a floor (T2)."""
    def run(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
        import rankinv.predict as p

        q, original = 1.0 - _all_fail(e, rung, cfg), p._reach

        def reach(per: Any, pre: float, cov: float, sig: float) -> float:
            base = original(per, pre, cov, sig)
            if floor_only:
                return max(base, q)
            return base if q <= cov else max(base, pre + sig * (max(cov, q) - pre) + sig * (1 - max(cov, q)))

        with patched("_reach", reach):
            return _evaluate(rung, cfg, step).prediction.estimate
    return run


def _combined(drift: float) -> Variant:
    """Two forecasts of the final by precision: the unchanged code (the prior's stated SD) and the run's measured
    pass@10 now (its SE by the delta method, plus a drift ``drift`` to the run's end)."""
    def run(e: Evaluation, rung: Rung, cfg: Config, step: int) -> float:
        g = e.features.group_size
        per = _per_step_all_fail(rung, step - cfg.monitor.signal_window, step, g)
        b = float(np.mean(per))
        q, dq = 1 - b ** (10 / g), (10 / g) * b ** (10 / g - 1) if b > 0 else 0.0
        sd = _prior_sd(e, cfg)
        w = sd**2 / (sd**2 + _se2(per) * dq * dq + drift**2)
        return (1 - w) * e.prediction.estimate + w * q
    return run


VARIANTS: tuple[tuple[str, Variant], ...] = (
    ("unchanged code", lambda e, rung, cfg, step: e.prediction.estimate),
    ("D", _with_trajectory(True, False)), ("E", _with_trajectory(False, True)), ("DE", _with_trajectory(True, True)),
    ("G1", _shift("prior", "one")), ("G1c", _shift("code", "one")), ("Gnow", _now), ("Gmax", _max_now),
    ("Gw", _shift("code", "trajectory")), ("Hcur", _shift("code", "precision")),
    ("Hpri", _shift("prior", "precision")), ("Hcur2", _shift("code", "precision", 2.0)),
    ("K", _run_signal(False)), ("Kw", _run_signal(True)),
    ("M_H", _entropy_ratio("ratio")), ("M_B", _entropy_ratio("budget")), ("Mup", _entropy_ratio("up")),
    ("Rw", _own_change(True)), ("R1", _own_change(False)), ("T", _reach_variant(False)), ("T2", _reach_variant(True)),
    *((f"C(σ={d:g})", _combined(d)) for d in (0.0, 0.05, 0.1, 0.15, 0.2)),
)


def scores(ladders: Sequence[DevLadder]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Mean Spearman per variant, per task, at the three scored steps (each ladder at its own steps)."""
    per: dict[tuple[str, str, int], list[float]] = {}
    for lad in ladders:
        for j, step in enumerate(steps_for(lad.rl_steps)):
            evals = [_evaluate(r, lad.config, step) for r in lad.rungs]
            actual = [r.actual for r in lad.rungs]
            for name, variant in VARIANTS:
                got = [variant(e, r, lad.config, step) for e, r in zip(evals, lad.rungs, strict=True)]
                per.setdefault((name, lad.task, j), []).append(rho(got, actual))
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name, _ in VARIANTS:
        out[name] = {task: tuple(float(np.nanmean(per[(name, task, j)])) for j in range(3))  # type: ignore[misc]
                     for task in DEV}
    return out


def cells(means: tuple[float, float, float]) -> str:
    """Three means as VALIDATION.md writes them (U+2212 for minus)."""
    return " ".join(f"{v:+.3f}".replace("-", "−") for v in means)


def main() -> int:
    for name, by_task in scores(dev_ladders()).items():
        print(f"{name}: hump {cells(by_task['hump'])} | digits {cells(by_task['digits'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
