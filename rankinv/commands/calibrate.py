"""``rankinv calibrate ROOT``: fit thresholds and the predictor on the finished runs under a root."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from rankinv.commands import roots
from rankinv.errors import RankinvError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit tau_2, tau_H and the pass@10 predictor on finished runs; print leave-one-out metrics",
        description=(
            "Finds the GRPO runs under ROOT, reads their logs and triage reports, takes each run's measured final "
            "pass@10 (peak logged eval pass@10, else the last checkpoint's triage report), and fits the stage-2 "
            "drop threshold, the stage-1 entropy threshold and the predictor. Prints leave-one-out Spearman, MAE "
            "and accuracies, and the rankinv.toml lines to use. Writes nothing."
        ),
    )
    roots.add_root(p, "runs root holding finished runs")
    p.add_argument("--eval", action="store_true",
                   help="triage the last checkpoint of runs without a measured pass@10 (needs [triage] prompts)")
    p.add_argument("--config", help="rankinv.toml (default: ROOT/rankinv.toml)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.set_defaults(func=run)


def _triage_outcome(run: Any, cfg: Any) -> float:
    """Measure pass@k on the run's last complete checkpoint with at least k samples per prompt."""
    from rankinv.triage.run import TriageRequest, run_triage, settings_from_config

    done = [c for c in run.checkpoints if c.complete]
    if not done:
        return math.nan
    if not cfg.triage.prompts:
        raise RankinvError("--eval needs a prompt set: set [triage] prompts in rankinv.toml")
    k = cfg.predict.k
    settings = settings_from_config(cfg.triage, samples=max(cfg.triage.samples, k))
    request = TriageRequest(checkpoint=str(done[-1].path), prompts=cfg.triage.prompts, settings=settings,
                            group_size=cfg.triage.group_size, reward=cfg.triage.reward, backend=cfg.triage.backend)
    report = run_triage(request, cfg.triage)
    value = report.metrics.pass_at_k.get(str(k))
    return value.estimate if value is not None else math.nan


def gather(root: Path, cfg: Any, evaluate: bool) -> list[Any]:
    """Assessments of every GRPO run under ``root`` that has entropy logs."""
    from rankinv.assess import assess
    from rankinv.discovery import discover

    out = []
    for info in discover(root):
        if info.kind == "SFT":
            continue
        a = assess(info.path, cfg, name=info.name)
        if a.monitor.points == 0:
            continue
        if evaluate and not math.isfinite(a.outcome):
            a = replace(a, outcome=_triage_outcome(info, cfg))
        out.append(a)
    return out


def _history(assessments: list[Any], cfg: Any) -> list[tuple[Any, float]]:
    """(features as the predictor saw them, measured outcome) for runs with an outcome."""
    from rankinv.evaluate import run_features
    from rankinv.ingest.sources import read_manifest
    from rankinv.predict import with_rl_start

    rows = [(with_rl_start(run_features(a.features, a.run, read_manifest(a.path), cfg), a.monitor), a.outcome)
            for a in assessments]  # fmt: skip
    return [(f, y) for f, y in rows if math.isfinite(y)]


def compute(root: Path, cfg: Any, evaluate: bool) -> dict[str, Any]:
    from rankinv.calibrate import failed, fit_threshold
    from rankinv.predict import fit, prior
    from rankinv.stats import spearman

    assessments = gather(root, cfg, evaluate)
    history = _history(assessments, cfg)
    result: dict[str, Any] = {"runs": len(assessments), "with_outcome": len(history)}
    if len(history) < 2:
        result["note"] = "need finished runs with a measured final pass@10 (eval logs, or use --eval)"
        return result
    ys = [y for _, y in history]
    priors = [prior(f, cfg.predict).estimate for f, _ in history]
    result["prior"] = {"spearman": spearman(priors, ys), "mae": _mae(priors, ys)}
    try:
        model = fit(history, cfg.predict)
        result["fitted"] = {"n": model.n, "loo_spearman": model.loo_spearman, "loo_mae": model.loo_mae,
                            "columns": list(model.columns)}
    except ValueError as exc:
        result["fitted"] = {"note": str(exc)}
    done = [a for a in assessments if math.isfinite(a.outcome)]
    bad = failed([a.outcome for a in done], cfg.predict.fail_fraction)
    stage1 = [a.features.entropy if a.features is not None else math.nan for a in done]
    fits = [fit_threshold("tau_2", [a.monitor.drop_at_decision for a in done], bad, ">"),
            fit_threshold("tau_h", stage1, bad, "<")]
    result["thresholds"] = [vars(t) for t in fits if t is not None]
    return result


def _mae(pred: list[float], ys: list[float]) -> float:
    pairs = [(p, y) for p, y in zip(pred, ys, strict=True) if math.isfinite(p)]
    return sum(abs(p - y) for p, y in pairs) / len(pairs) if pairs else math.nan


def run(args: argparse.Namespace) -> int:
    from rankinv.config import find_config, load_config

    root = Path(args.root)
    if not root.is_dir():
        raise RankinvError(f"{root}: not a directory; give the runs root that holds finished runs")
    from rankinv.boundary.files import confined
    from rankinv.boundary.text import shown

    cfg = load_config(args.config or find_config(root))
    with confined(root, follow_outside=cfg.daemon.follow_symlinks_outside_root):
        result = compute(root, cfg, args.eval)
    if args.json:
        from rankinv.assess import jsonable

        print(json.dumps(jsonable(result), indent=2))
        return 0
    print("\n".join(shown(line) for line in render(result)))
    return 0


def render(r: dict[str, Any]) -> list[str]:
    lines = [f"runs with entropy logs: {r['runs']}, with a measured final pass@10: {r['with_outcome']}"]
    if "note" in r:
        return [*lines, r["note"]]
    lines.append(f"prior:  Spearman {r['prior']['spearman']:+.2f}, MAE {r['prior']['mae']:.3f} (no fitting)")
    fitted = r["fitted"]
    lines.append(f"fitted: leave-one-out Spearman {fitted['loo_spearman']:+.2f}, MAE {fitted['loo_mae']:.3f} "
                 f"on {fitted['n']} runs" if "n" in fitted else f"fitted: {fitted['note']}")
    for t in r["thresholds"]:
        lines.append(f"{t['metric']}: {t['threshold']:.3f} (failure when value {t['direction']} it; balanced "
                     f"accuracy {t['balanced_accuracy']:.2f}, leave-one-out {t['loo_accuracy']:.2f}, n={t['n']})")
    sections = {"tau_2": "monitor", "tau_h": "triage"}
    lines += [f"  suggested rankinv.toml: [{sections[t['metric']]}] {t['metric']} = {t['threshold']:.3f}"
              for t in r["thresholds"]]
    return lines
