"""How rankinv ranks GRPO runs after their first RL steps: ``python -m examples.ladder.early``.

The ranking the TUI shows while RL runs (and that decides which runs keep the GPUs) is the prediction of the one
evaluation path (``rankinv.evaluate.evaluate_run``) on what the run has logged so far. For every stored hump seed
with an archive (``results/runs/hump-seedN.tar.gz``: each rung's RL log, manifest and starting triage report),
each rung's log is read through that path up to step k, as the daemon would have read it then, and the predicted
final pass@10 at k is ranked against the actual pass@10 after GRPO stored in the seed's JSON. Beside it, the
single signals the monitor reads at the same step from the same log (entropy, the trailing mean reward and
zero-std share, each as ``rankinv.monitor.analyse`` reports it, and the trailing all-fail share that
``rankinv.groups.split`` reads from them), the checkpoint's pre-RL pass@1 and the pre-RL prediction. Directions
fixed before any result: higher is better for the prediction, entropy (the paper's, Spearman +0.82 at RL step 10),
reward and pass@1; lower for the zero-std and all-fail shares. The digits ladder's archived seeds
(``digits-seedN-rlS.tar.gz``) are read the same way, at the steps :func:`steps_for` gives their length.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from examples.ladder.evidence import RESULTS, Ladder, finite_mean, fmt_cell, load, predict, rho
from rankinv.monitor import RunSeries


def steps_for(rl_steps: int) -> tuple[int, int, int]:
    """The steps scored for a run of ``rl_steps`` (``VALIDATION.md``, "Sixth held-out set"): the ladder's stage-2
    baseline step, one sixth of the run and the hump ladder's decision fraction (150 / 400) of it."""
    return (max(1, rl_steps // 15), max(2, rl_steps // 6), round(rl_steps * 150 / 400))


STEPS = steps_for(60)
"""(4, 10, 22) for the hump ladder's 60 steps: the stage-2 baseline step, a step where the trajectory has 7
points, and the decision step."""


@dataclass(frozen=True)
class EarlyReading:
    """One rung's run read up to step ``step``: the prediction and the monitor's single signals there."""

    step: int
    predicted: float
    entropy: float
    reward: float
    zero_std: float
    all_fail: float


@dataclass(frozen=True)
class EarlyRung:
    depth: int
    actual: float
    pre_rl: float
    pass1: float
    readings: tuple[EarlyReading, ...]


def read_run(run_dir: Path, config_path: Path, steps: Sequence[int] = STEPS) -> tuple[EarlyReading, ...]:
    """The run's log truncated at each step, through the one evaluation path (its starting triage, its manifest,
    the ladder's config)."""
    from rankinv.assess import load_features, primary_series, start_report
    from rankinv.config import load_config
    from rankinv.evaluate import evaluate_run, reward_ceiling
    from rankinv.groups import split
    from rankinv.ingest.sources import read_manifest

    cfg = load_config(config_path)
    series = primary_series(run_dir, run_dir.name, cfg)
    triage, manifest = load_features(start_report(run_dir)), read_manifest(run_dir)
    out = []
    for k in steps:
        e = evaluate_run(prefix(series, k), triage, cfg, name=run_dir.name, manifest=manifest)
        assert e.monitor is not None
        m = e.monitor
        groups = split(m.reward_now, m.zero_std_now, e.features.group_size, reward_ceiling(manifest, cfg))
        all_fail = groups.all_fail if groups is not None else math.nan
        out.append(EarlyReading(k, e.prediction.estimate, m.entropy_now, m.reward_now, m.zero_std_now, all_fail))
    return tuple(out)


def prefix(series: RunSeries, step: int) -> RunSeries:
    """What the run had logged by ``step`` (as :func:`rankinv.evaluate.verdict_history` cuts it)."""
    from rankinv.evaluate import _upto

    return RunSeries(*(_upto(c, step) for c in (series.entropy, series.reward, series.zero_std)))


def archive_of(lad: Ladder, results: Path = RESULTS) -> Path:
    """Where ``collect`` archived the seed's runs (the digits ladder's names carry the run length)."""
    name = f"{lad.task}-seed{lad.seed}" + ("" if lad.task == "hump" else f"-rl{lad.rl_steps}")
    return results / "runs" / f"{name}.tar.gz"


def read_ladder(lad: Ladder, results: Path = RESULTS, steps: Sequence[int] | None = None) -> list[EarlyRung]:
    """Every rung of a stored seed, from its archive; the actual pass@10 from the seed's JSON (the archive's
    ``ladder.json`` must agree with it, or the archive is not this seed's)."""
    from examples.ladder.collect import unpack

    steps = steps_for(lad.rl_steps) if steps is None else steps
    with tempfile.TemporaryDirectory(prefix="rankinv-early-") as tmp:
        out = unpack(archive_of(lad, results), Path(tmp))
        archived = json.loads((out / "ladder.json").read_text(encoding="utf-8"))["rows"]
        rungs = []
        for row, arch in zip(lad.rows, archived, strict=True):
            if (row["depth"], row["actual"]) != (arch["depth"], arch["actual"]):
                raise ValueError(f"{archive_of(lad, results).name}: rung {arch['depth']} is not the stored one")
            run_dir = out / "rl" / Path(arch["run_dir"]).name
            rungs.append(EarlyRung(row["depth"], row["actual"], predict(row).estimate, row["pass1"],
                                   read_run(run_dir, out / "rl" / "rankinv.toml", steps)))
    return rungs


def scores(rungs: Sequence[EarlyRung], step: int) -> dict[str, float]:
    """Spearman with the actual pass@10 of the prediction and each single signal at ``step``."""
    actual = [r.actual for r in rungs]
    at = [next(x for x in r.readings if x.step == step) for r in rungs]
    return {"predicted": rho([x.predicted for x in at], actual), "entropy": rho([x.entropy for x in at], actual),
            "reward": rho([x.reward for x in at], actual), "zero_std": rho([-x.zero_std for x in at], actual),
            "all_fail": rho([-x.all_fail for x in at], actual), "pass1": rho([r.pass1 for r in rungs], actual),
            "pre_rl": rho([r.pre_rl for r in rungs], actual)}  # fmt: skip


COLUMNS = ("predicted", "entropy", "reward", "zero_std", "all_fail", "pass1", "pre_rl")


def early_table(ladders: Sequence[Ladder], results: Path = RESULTS) -> str:
    """One line per archived seed and step, and a mean per split, run length and step (never pooled)."""
    head = ["seed", "split", "RL step", "predicted at the step", "RL entropy", "reward (trailing mean)",
            "−zero-std share (trailing mean)", "−all-fail share (trailing)", "pre-RL pass@1", "pre-RL prediction"]
    lines = ["| " + " | ".join(head) + " |", "|---:|---|---:|" + "---:|" * (len(head) - 3)]
    by_split: dict[tuple[str, int], list[dict[str, float]]] = {}
    for lad in ladders:
        if not archive_of(lad, results).is_file():
            continue
        rungs = read_ladder(lad, results)
        for k in steps_for(lad.rl_steps):
            s = scores(rungs, k)
            by_split.setdefault((lad.group, k), []).append(s)
            lines.append(_line(lad.label, lad.group, k, s))
    for (split, k), group in by_split.items():
        mean = {c: finite_mean([s[c] for s in group]) for c in COLUMNS}
        lines.append(_line(f"mean ({len(group)})", split, k, mean))
    return "\n".join(lines) + "\n"


def _line(seed: str, split: str, step: int, s: dict[str, float]) -> str:
    cells = [seed, split, str(step), *(fmt_cell(s[c]) for c in COLUMNS)]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    print(early_table(load()), end="")
    print(early_table(load(task="digits")), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
