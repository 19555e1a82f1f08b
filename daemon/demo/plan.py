"""The replay schedule: when each line, manifest and checkpoint of the bundled runs appears in the demo root.

SFT runs play first; runs that start from a checkpoint (GRPO) start once that checkpoint has appeared, so the
daemon triages the checkpoint before the RL run that uses it is judged — as on a real cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "rankinv-run.json"
LOG = "rankinv.jsonl"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Step:
    """One thing the replay does at ``at`` seconds after it starts."""

    at: float
    run: str
    kind: str  # "manifest" | "line" | "checkpoint"
    payload: str  # the log line, or the checkpoint folder name


@dataclass(frozen=True)
class RunPlan:
    name: str
    steps: tuple[tuple[int, str], ...]  # (training step, jsonl line)
    checkpoints: tuple[tuple[int, str], ...]  # (training step, folder name)
    parent: str | None  # the run whose checkpoint this run starts from


def read_run(src: Path) -> RunPlan:
    lines = [line for line in (src / LOG).read_text(encoding="utf-8").splitlines() if line.strip()]
    steps = tuple((int(json.loads(line).get("step") or 0), line) for line in lines)
    checkpoints = tuple(sorted(
        (int(m.group(1)), p.name) for p in src.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))
    ))
    model_path = str(json.loads((src / MANIFEST).read_text(encoding="utf-8")).get("model_path") or "")
    parent = Path(model_path).parent.name if _CHECKPOINT.match(Path(model_path).name) else None
    return RunPlan(src.name, steps, checkpoints, parent)


def schedule(runs: list[RunPlan], seconds_per_run: float) -> list[Step]:
    """Play each run over ``seconds_per_run``; a run with a parent starts when the parent's last checkpoint lands."""
    by_name = {r.name: r for r in runs}
    start: dict[str, float] = {}

    def start_of(run: RunPlan) -> float:
        if run.name not in start:
            parent = by_name.get(run.parent or "")
            start[run.name] = start_of(parent) + seconds_per_run if parent else 0.0
        return start[run.name]

    out: list[Step] = []
    for run in runs:
        t0 = start_of(run)
        last = max((s for s, _ in run.steps), default=1) or 1
        out.append(Step(t0, run.name, "manifest", ""))
        out += [Step(t0 + seconds_per_run * s / last, run.name, "line", line) for s, line in run.steps]
        out += [Step(t0 + seconds_per_run * s / last, run.name, "checkpoint", name) for s, name in run.checkpoints]
    return sorted(out, key=lambda s: (s.at, s.kind != "manifest"))
