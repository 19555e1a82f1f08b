"""One run end to end, without a daemon: its logs → monitor → predict → verdict.

Used by ``rankinv explain`` and ``rankinv calibrate``. Reads a run directory through the ingest layer (every log
format it supports) and the triage report of the checkpoint the run started from, if one exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankinv.config import Config
from rankinv.errors import RankinvError
from rankinv.evaluate import evaluate_run
from rankinv.metrics import EVAL_PREFIX, MetricPoint
from rankinv.monitor import MonitorResult, RunSeries, series_from_points
from rankinv.predict import Features, FittedModel, Prediction, features_from_report
from rankinv.run_groups import NOT_STATED, StatedGroups
from rankinv.verdict import Verdict, confidence_basis

REPORT_NAME = "rankinv-triage.json"


@dataclass(frozen=True)
class Assessment:
    run: str
    path: Path
    monitor: MonitorResult
    features: Features | None
    report: Path | None
    prediction: Prediction
    verdict: Verdict
    outcome: float
    """Measured final pass@10 when the run has one (peak eval pass@10, else a final-checkpoint triage), else NaN."""
    notes: tuple[str, ...] = ()
    """What reading the run's primary log noted, as the daemon's event feed says it (records skipped for a step
    that cannot be one)."""
    groups: StatedGroups = NOT_STATED
    """The groups a logged step the coverage test was told, and where that came from (config, manifest)."""


def read_points(run_dir: Path, run: str, extra_logs: Sequence[Path] = ()) -> list[Sequence[MetricPoint]]:
    """Every log of the run (and ``extra_logs``: its stdout files elsewhere), each read whole, one list per source."""
    from rankinv.ingest import sources_for_run

    return [source.open(run).read_new()[0] for source in sources_for_run(run_dir, list(extra_logs))]


def primary_series(run_dir: Path, run: str, config: Config, extra_logs: Sequence[Path] = ()) -> RunSeries:
    """The run's curves from its primary source, the one log the daemon ingests (``rankinv.ingest.primary``):
    sources of one run repeat each other, and mixing them would let rounding decide values."""
    return series_from_points(primary_points(run_dir, run, extra_logs), config.monitor.entropy_metric)


def primary_points(run_dir: Path, run: str, extra_logs: Sequence[Path] = ()) -> Sequence[MetricPoint]:
    """Every point of the run's primary source (its read's ``notes`` with them), or none."""
    from rankinv.ingest import sources_for_run
    from rankinv.ingest.primary import primary_source

    chosen = primary_source(sources_for_run(run_dir, list(extra_logs)))
    return chosen[0].open(run).read_new()[0] if chosen else []


def eval_outcome(per_source: Sequence[Sequence[MetricPoint]], k: int = 10) -> float:
    """Peak logged eval pass@k (the paper's "peak pass@10"), NaN when never logged."""
    wanted = f"pass@{k}"
    values = [p.value for pts in per_source for p in pts
              if p.name.startswith(EVAL_PREFIX) and p.name.endswith(wanted) and math.isfinite(p.value)]
    return max(values) if values else math.nan


def _checkpoint_reports(run_dir: Path) -> list[Path]:
    def step(p: Path) -> int:
        tail = p.parent.name.rsplit("-", 1)[-1].rsplit("_", 1)[-1]
        return int(tail) if tail.isdigit() else -1

    return sorted(run_dir.glob(f"*/{REPORT_NAME}"), key=step)


def start_report(run_dir: Path) -> Path | None:
    """The triage report of the checkpoint the run started from: in the run dir, at the manifest's model path,
    else the earliest checkpoint's."""
    from rankinv.ingest.sources import read_manifest

    model = read_manifest(run_dir).get("model_path") or read_manifest(run_dir).get("parent")
    for candidate in (run_dir / REPORT_NAME, Path(str(model)) / REPORT_NAME if model else None):
        if candidate is not None and candidate.is_file():
            return candidate
    reports = _checkpoint_reports(run_dir)
    return reports[0] if len(reports) > 1 else None


def final_report_outcome(run_dir: Path, k: int = 10) -> float:
    """pass@k from the last checkpoint's triage report, when it sampled at least k per prompt."""
    from rankinv.triage.report import read_report

    reports = _checkpoint_reports(run_dir)
    if not reports:
        return math.nan
    passes = read_report(reports[-1]).metrics.pass_at_k
    return passes[str(k)].estimate if str(k) in passes else math.nan


def load_features(report: Path | None) -> Features | None:
    if report is None:
        return None
    from rankinv.triage.report import read_report

    return features_from_report(read_report(report))


def assess(
    run_dir: str | Path,
    config: Config | None = None,
    *,
    name: str | None = None,
    model: FittedModel | None = None,
    pinned: bool = False,
    extra_logs: Sequence[Path] = (),
) -> Assessment:
    """Read one run (a directory, or a trainer stdout file that is a run of its own; ``extra_logs``: its stdout
    files elsewhere, :func:`rankinv.discovery.attributed_logs`) and decide about it, through the evaluation the
    daemon uses."""
    from rankinv.ingest.sources import read_manifest

    cfg = config or Config()
    path = Path(run_dir)
    if not path.exists():
        raise RankinvError(f"{path}: not a run directory; give a run folder, or a run name with --root")
    run = name or path.name
    per_source = read_points(path, run, extra_logs)
    report = start_report(path)
    features = load_features(report)
    primary = primary_points(path, run, extra_logs)
    series = series_from_points(primary, cfg.monitor.entropy_metric)
    e = evaluate_run(series, features, cfg, name=run, manifest=read_manifest(path), model=model,
                     pinned=pinned)  # fmt: skip
    assert e.monitor is not None
    outcome = eval_outcome(per_source, cfg.predict.k)
    if not math.isfinite(outcome):
        outcome = final_report_outcome(path, cfg.predict.k)
    notes = tuple(n.message() for n in getattr(primary, "notes", {}).values())
    return Assessment(run, path, e.monitor, features, report, e.prediction, e.verdict, outcome, notes, e.groups)


def to_dict(a: Assessment) -> dict[str, Any]:
    """JSON-ready form (NaN → None)."""
    m = a.monitor
    monitor = {
        "last_step": m.last_step, "points": m.points, "restarts": m.restarts, "baseline_step": m.baseline_step,
        "baseline": m.baseline, "entropy_now": m.entropy_now, "drop_now": m.drop_now,
        "drop_at_decision": m.drop_at_decision, "floor": m.floor, "floor_step": m.floor_step,
        "log_slope": None if m.log_slope is None else [m.log_slope.slope, m.log_slope.lo, m.log_slope.hi],
        "zero_std_now": m.zero_std_now, "zero_std_expected": m.zero_std_expected,
        "reward_start": m.reward_start, "reward_now": m.reward_now,
        "reward_gain": None if m.reward_gain is None else [m.reward_gain.gain, m.reward_gain.se],
    }
    p, v = a.prediction, a.verdict
    out: dict[str, Any] = jsonable({
        "run": a.run, "path": str(a.path), "triage_report": str(a.report) if a.report else None,
        "monitor": monitor,
        "prediction": {"estimate": p.estimate, "lo": p.lo, "hi": p.hi, "basis": p.basis, "terms": dict(p.terms)},
        "verdict": {
            "decision": v.decision.value, "confidence": v.confidence, "confidence_basis": confidence_basis(v),
            "step": v.step, "summary": v.summary(),
            "reasons": [{"metric": r.metric, "value": r.value, "threshold": r.threshold, "op": r.op,
                         "start_step": r.start_step, "end_step": r.end_step, "grade": r.grade, "note": r.note,
                         "text": r.render()} for r in v.reasons],
        },
        "outcome_pass10": a.outcome,
        "notes": list(a.notes),
        "groups_per_step": {"value": a.groups.value, "source": a.groups.source, "ignored": a.groups.ignored or None,
                            "text": a.groups.describe(m.step_signal)},
    })
    return out


def jsonable(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x
