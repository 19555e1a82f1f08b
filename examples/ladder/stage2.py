"""Stage 2 replayed on finished runs under both policies: ``python -m examples.ladder.stage2``.

``--ladder DIR`` takes a finished ``python -m examples.ladder --out DIR`` (its ``ladder.json`` and ``rl/``),
``--matrix DIR`` a finished ``python -m tests.support.stage2_matrix DIR``. Every run's log is replayed step by step
through rankinv's one evaluation path (``rankinv.evaluate.verdict_history``), once with ``[verdict]
stage2_policy = "groups"`` and once with the paper's ``"tau2"``; a run's first KILL is when a daemon would have
acted. The oracle is measured, not read from the logs: a run *collapsed* when its pass@10 after GRPO is below its
checkpoint's pass@10 before GRPO, so a KILL is right on a collapsed run and wrong on any other. ``--json FILE``
keeps the rows; the Markdown table is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLICIES = ("groups", "tau2")


@dataclass(frozen=True)
class Replayed:
    """One run: the oracle's numbers and each policy's first KILL step (None: never)."""

    source: str
    run: str
    steps: int
    before: float
    after: float
    first_kill: dict[str, int | None]

    @property
    def collapsed(self) -> bool:
        return self.after < self.before


def replay(run_dir: Path, config_path: Path) -> dict[str, int | None]:
    """First KILL step of the run under each policy, from its own log and its starting checkpoint's triage."""
    from rankinv.assess import load_features, primary_series, start_report
    from rankinv.config import load_config
    from rankinv.evaluate import verdict_history
    from rankinv.ingest.sources import read_manifest
    from rankinv.verdict import Decision

    base = load_config(config_path)
    triage = load_features(start_report(run_dir))
    out: dict[str, int | None] = {}
    for policy in POLICIES:
        cfg = dataclasses.replace(base, verdict=dataclasses.replace(base.verdict, stage2_policy=policy))
        series = primary_series(run_dir, run_dir.name, cfg)
        history = verdict_history(series, triage, cfg, name=run_dir.name, manifest=read_manifest(run_dir))
        out[policy] = next((s for s, v in history if v.decision is Decision.KILL), None)
    return out


def ladder_rows(out: Path) -> list[Replayed]:
    table = json.loads((out / "ladder.json").read_text(encoding="utf-8"))
    steps = int(table["settings"]["rl_steps"])
    where = f"seed {table['settings']['seed']}, {steps} GRPO steps, SFT depth"
    source = "hump ladder" if table["settings"].get("task") == "hump" else "toy ladder"
    return [Replayed(source, f"{where} {r['depth']}", steps, _number(r["pre_pass10"]), _number(r["actual"]),
                     replay(out / "rl" / Path(r["run_dir"]).name, out / "rl" / "rankinv.toml"))
            for r in table["rows"]]  # fmt: skip


def _number(value: float | None) -> float:
    """A stored number; NaN for null (``--quick`` ladders sample too few to measure pass@10 before RL)."""
    return math.nan if value is None else float(value)


def matrix_rows(out: Path) -> list[Replayed]:
    rows = json.loads((out / "outcomes.json").read_text(encoding="utf-8"))
    return [Replayed("toy matrix", r["run"], int(r["steps"]), float(r["start_pass10"]), float(r["end_pass10"]),
                     replay(out / r["run"], out / "rankinv.toml")) for r in rows]  # fmt: skip


def confusion(rows: Sequence[Replayed], policy: str) -> dict[str, Any]:
    """Right and wrong KILLs, missed collapses, and the RL compute the right KILLs saved (share of their steps)."""
    killed = [r for r in rows if r.first_kill[policy] is not None]
    right = [r for r in killed if r.collapsed]
    saved = [(r.steps - (r.first_kill[policy] or 0)) / r.steps for r in right]
    return {
        "runs": len(rows), "collapsed": sum(r.collapsed for r in rows), "right_kills": len(right),
        "wrong_kills": len(killed) - len(right), "missed": sum(r.collapsed for r in rows) - len(right),
        "saved": sum(saved) / len(saved) if saved else math.nan,
    }  # fmt: skip


def markdown(rows: Sequence[Replayed]) -> str:
    """One line per (source, policy): the confusion counts and the compute saved."""
    lines = ["| runs | policy | runs (collapsed) | right KILLs | wrong KILLs | collapses missed | RL compute saved |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for source in dict.fromkeys(r.source for r in rows):
        group = [r for r in rows if r.source == source]
        for policy in POLICIES:
            c = confusion(group, policy)
            saved = "-" if math.isnan(c["saved"]) else f"{c['saved']:.0%}"
            lines.append(f"| {source} | {policy} | {c['runs']} ({c['collapsed']}) | {c['right_kills']} | "
                         f"{c['wrong_kills']} | {c['missed']} | {saved} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def load(path: Path) -> list[Replayed]:
    return [Replayed(**row) for row in json.loads(path.read_text(encoding="utf-8"))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.ladder.stage2", description=__doc__)
    p.add_argument("--ladder", action="append", default=[], help="a finished examples.ladder --out directory")
    p.add_argument("--matrix", action="append", default=[], help="a finished tests.support.stage2_matrix directory")
    p.add_argument("--json", help="write the replayed rows here")
    args = p.parse_args(argv)
    rows = [r for d in args.ladder for r in ladder_rows(Path(d))]
    rows += [r for d in args.matrix for r in matrix_rows(Path(d))]
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1) + "\n")
    print(markdown(rows), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
