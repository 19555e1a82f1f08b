"""Stage 2 replayed on finished runs under both policies: ``python -m examples.ladder.stage2``.

``--ladder DIR`` takes a finished ``python -m examples.ladder --out DIR`` (its ``ladder.json`` and ``rl/``),
``--matrix DIR`` a finished ``python -m tests.support.stage2_matrix DIR``. Every run's log is replayed step by step
through rankinv's one evaluation path (``rankinv.evaluate.verdict_history``), once with ``[verdict]
stage2_policy = "groups"`` and once with the paper's ``"tau2"``; a run's first KILL is when a daemon would have
acted. The oracle is measured, not read from the logs: a run *collapsed* when its pass@10 after GRPO is below its
checkpoint's pass@10 before GRPO, so a KILL is right on a collapsed run and wrong on any other. Beside it the
noise-aware oracle of ``VALIDATION.md`` (:mod:`examples.ladder.noise`): a run *lost* or *gained* only beyond
twice the sampling noise of its change, else it is *flat* and a KILL of it is neither right nor wrong.
``--json FILE`` keeps the rows; the Markdown tables are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.ladder.noise import change_sd, outcome

POLICIES = ("groups", "tau2")
SOURCES = {"hump": "hump ladder", "collapse": "collapse ladder"}
"""How a ladder's task names its runs in the tables (the digits task: "toy ladder")."""


@dataclass(frozen=True)
class Replayed:
    """One run: the oracle's numbers, each policy's first KILL step (None: never) and its verdict at the run's
    last step; ``noise_sd`` is the standard deviation of after - before (NaN where no per-prompt counts were
    kept), ``decision_step`` the run's stage-2 decision step (None where not recorded)."""

    source: str
    run: str
    steps: int
    before: float
    after: float
    first_kill: dict[str, int | None]
    noise_sd: float = math.nan
    decision_step: int | None = None
    end: dict[str, str] = field(default_factory=dict)

    @property
    def collapsed(self) -> bool:
        return self.after < self.before

    @property
    def outcome(self) -> str | None:
        """The noise-aware oracle: ``lost``, ``gained``, ``flat``, or None without per-prompt counts."""
        return outcome(self.before, self.after, self.noise_sd)


@dataclass(frozen=True)
class Judged:
    """What replaying one run under every policy gave."""

    first_kill: dict[str, int | None]
    decision_step: int
    end: dict[str, str]


def replay(run_dir: Path, config_path: Path, groups: int | None = None) -> Judged:
    """First KILL step of the run under each policy, from its own log and its starting checkpoint's triage, and
    each policy's verdict at the last step (decision and its first reason). ``groups``: the groups a logged step,
    from the ladder's settings, for a config written before it stated them."""
    from rankinv.assess import load_features, primary_series, start_report
    from rankinv.config import load_config
    from rankinv.evaluate import verdict_history
    from rankinv.ingest.sources import read_manifest
    from rankinv.verdict import Decision

    base = load_config(config_path)
    if groups is not None and not base.verdict.groups_per_step:
        base = dataclasses.replace(base, verdict=dataclasses.replace(base.verdict, groups_per_step=groups))
    triage = load_features(start_report(run_dir))
    kills: dict[str, int | None] = {}
    end: dict[str, str] = {}
    for policy in POLICIES:
        cfg = dataclasses.replace(base, verdict=dataclasses.replace(base.verdict, stage2_policy=policy))
        series = primary_series(run_dir, run_dir.name, cfg)
        history = verdict_history(series, triage, cfg, name=run_dir.name, manifest=read_manifest(run_dir))
        kills[policy] = next((s for s, v in history if v.decision is Decision.KILL), None)
        if history:
            last = history[-1][1]
            end[policy] = last.decision.value + (f": {last.reasons[0].metric}" if last.reasons else "")
    return Judged(kills, base.monitor.decision_step, end)


def _judged(row: Replayed, judged: Judged, sd: float) -> Replayed:
    return dataclasses.replace(row, first_kill=judged.first_kill, noise_sd=sd, decision_step=judged.decision_step,
                               end=judged.end)


def ladder_rows(out: Path) -> list[Replayed]:
    table = json.loads((out / "ladder.json").read_text(encoding="utf-8"))
    steps = int(table["settings"]["rl_steps"])
    where = f"seed {table['settings']['seed']}, {steps} GRPO steps, SFT depth"
    source = SOURCES.get(table["settings"].get("task", "digits"), "toy ladder")
    groups = int(table["settings"]["rl_batch_size"]) // int(table["settings"]["group_size"])
    return [_judged(Replayed(source, f"{where} {r['depth']}", steps, _number(r["pre_pass10"]), _number(r["actual"]),
                             {}), replay(out / "rl" / Path(r["run_dir"]).name, out / "rl" / "rankinv.toml", groups),
                    change_sd(r["features"].get("prompt_counts") or [], r.get("after_counts") or []))
            for r in table["rows"]]  # fmt: skip


def _number(value: float | None) -> float:
    """A stored number; NaN for null (``--quick`` ladders sample too few to measure pass@10 before RL)."""
    return math.nan if value is None else float(value)


def matrix_rows(out: Path) -> list[Replayed]:
    rows = json.loads((out / "outcomes.json").read_text(encoding="utf-8"))
    return [_judged(Replayed("toy matrix", r["run"], int(r["steps"]), float(r["start_pass10"]),
                             float(r["end_pass10"]), {}), replay(out / r["run"], out / "rankinv.toml"),
                    change_sd(r.get("start_counts") or [], r.get("end_counts") or [])) for r in rows]  # fmt: skip


def _by_decision(runs: Sequence[Replayed], policy: str) -> str:
    """How many of ``runs`` were KILLed at or before their decision step, as "k of n" ("-" where unknown)."""
    if any(r.decision_step is None for r in runs):
        return "-"
    on_time = sum(r.first_kill[policy] is not None and r.first_kill[policy] <= (r.decision_step or 0) for r in runs)
    return f"{on_time} of {len(runs)}"


def _saved(killed: Sequence[Replayed], policy: str) -> float:
    """Mean share of their RL steps the KILLs spared (NaN when none)."""
    saved = [(r.steps - (r.first_kill[policy] or 0)) / r.steps for r in killed]
    return sum(saved) / len(saved) if saved else math.nan


def confusion(rows: Sequence[Replayed], policy: str) -> dict[str, Any]:
    """Right and wrong KILLs, missed collapses, the collapses KILLed by their decision step, and the RL compute
    the right KILLs saved (share of their steps)."""
    killed = [r for r in rows if r.first_kill[policy] is not None]
    right = [r for r in killed if r.collapsed]
    collapsed = [r for r in rows if r.collapsed]
    return {
        "runs": len(rows), "collapsed": len(collapsed), "right_kills": len(right),
        "wrong_kills": len(killed) - len(right), "missed": len(collapsed) - len(right),
        "by_decision": _by_decision(collapsed, policy), "saved": _saved(right, policy),
    }  # fmt: skip


def confusion_noise(rows: Sequence[Replayed], policy: str) -> dict[str, Any]:
    """The same counts under the noise-aware oracle; runs without per-prompt counts are left out."""
    judged = [r for r in rows if r.outcome is not None]
    killed = [r for r in judged if r.first_kill[policy] is not None]
    lost = [r for r in judged if r.outcome == "lost"]
    right = [r for r in killed if r.outcome == "lost"]
    count = {o: sum(r.outcome == o for r in judged) for o in ("lost", "flat", "gained")}
    return {
        "runs": len(judged), **count, "right_kills": len(right),
        "wrong_kills": sum(r.outcome == "gained" for r in killed),
        "flat_kills": sum(r.outcome == "flat" for r in killed), "missed": len(lost) - len(right),
        "by_decision": _by_decision(lost, policy), "saved": _saved(right, policy),
    }  # fmt: skip


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.0%}"


def _sources(rows: Sequence[Replayed]) -> list[tuple[str, list[Replayed]]]:
    return [(source, [r for r in rows if r.source == source]) for source in dict.fromkeys(r.source for r in rows)]


def markdown(rows: Sequence[Replayed]) -> str:
    """One line per (source, policy) under the first oracle: the confusion counts and the compute saved."""
    lines = ["| runs | policy | runs (collapsed) | right KILLs | wrong KILLs | collapses missed | "
             "collapses KILLed by the decision step | RL compute saved |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for source, group in _sources(rows):
        for policy in POLICIES:
            c = confusion(group, policy)
            lines.append(f"| {source} | {policy} | {c['runs']} ({c['collapsed']}) | {c['right_kills']} | "
                         f"{c['wrong_kills']} | {c['missed']} | {c['by_decision']} | {_pct(c['saved'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def markdown_noise(rows: Sequence[Replayed]) -> str:
    """One line per (source, policy) under the noise-aware oracle."""
    lines = ["| runs | policy | runs (lost / flat / gained) | right KILLs (lost) | wrong KILLs (gained) | "
             "KILLs of flat runs | losses missed | losses KILLed by the decision step | RL compute saved |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for source, group in _sources(rows):
        for policy in POLICIES:
            c = confusion_noise(group, policy)
            if not c["runs"]:
                continue
            lines.append(f"| {source} | {policy} | {c['runs']} ({c['lost']} / {c['flat']} / {c['gained']}) | "
                         f"{c['right_kills']} | {c['wrong_kills']} | {c['flat_kills']} | {c['missed']} | "
                         f"{c['by_decision']} | {_pct(c['saved'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def detail(rows: Sequence[Replayed]) -> str:
    """Every run that either policy KILLed or either oracle counts as lost, one line each."""
    lines = ["| runs | run | pass@10 before → after | change / noise SD | outcome | groups: first KILL | "
             "groups: verdict at the end | tau2: first KILL |", "|---|---|---|---:|---|---:|---|---:|"]
    for r in rows:
        if not (r.collapsed or r.outcome == "lost" or any(v is not None for v in r.first_kill.values())):
            continue
        ratio = "-" if not math.isfinite(r.noise_sd) or r.noise_sd <= 0 else f"{(r.after - r.before) / r.noise_sd:+.1f}"
        kill = {p: "-" if r.first_kill[p] is None else str(r.first_kill[p]) for p in POLICIES}
        lines.append(f"| {r.source} | {r.run} | {r.before:.3f} → {r.after:.3f} | {ratio} | {r.outcome or '-'} | "
                     f"{kill['groups']} | {r.end.get('groups', '-')} | {kill['tau2']} |")
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
    print(markdown(rows), markdown_noise(rows), detail(rows), sep="\n", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
