"""``python -m examples.ladder.remeasure --task hump|digits --seeds N ... [--out DIR]``: each prompt's answer
likelihood for seeds stored before the ladder measured it.

The ladder is deterministic per seed, so re-running a seed's base model and SFT run with the same code and seed
gives the same checkpoints; this does that (no GRPO), reads every checkpoint's per-prompt teacher-forced
probability of its valid answers (:func:`examples.ladder.rung.answer_probs`) and checks the checkpoints are the
stored ones: the eval loss at every depth equals the stored row's (tasks with held-out SFT data), and the deepest
checkpoint re-triaged gives the stored per-prompt counts. Writes ``answers/TASK-seedN.json`` under ``--out``
(default ``examples/ladder/results``); prints one line per seed with the checks' outcome, no outcome of RL.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

from examples.ladder.collect import ROOT, commit
from examples.ladder.settings import PRESETS, LadderSettings
from examples.ladder.tasks import task_module

RESULTS = ROOT / "examples" / "ladder" / "results"


def stored_rows(task: str, seed: int, results: Path = RESULTS) -> list[dict[str, Any]]:
    """The stored rows of the seed (for digits, the 30-step ladder's: both lengths share one SFT run)."""
    name = f"{task}-seed{seed}" + ("-rl30" if task == "digits" else "")
    return list(json.loads((results / f"{name}.json").read_text(encoding="utf-8"))["ladder"]["rows"])


def _eval_loss(checkpoint: Path) -> float:
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    losses = [e["eval_loss"] for e in state.get("log_history", []) if "eval_loss" in e]
    return float(losses[-1]) if losses else math.nan


def remeasure(task: str, seed: int, out: Path, results: Path = RESULTS) -> dict[str, Any]:
    import dataclasses

    import torch

    from examples.ladder import tinymodel
    from examples.ladder.pipeline import prepare, sft_ladder
    from examples.ladder.rung import answer_probs, counts, triage

    s: LadderSettings = dataclasses.replace(PRESETS[(task, False)], seed=seed)
    rows = {int(r["depth"]): r for r in stored_rows(task, seed, results)}
    tinymodel.quiet_output()
    torch.set_num_threads(1)
    torch.manual_seed(s.seed)
    with tempfile.TemporaryDirectory(prefix=f"rankinv-remeasure-{task}-{seed}-") as tmp:
        work = Path(tmp)
        config = prepare(work, s)
        checkpoints = sft_ladder(work, s)
        probs, loss_ok, counts_ok = {}, True, False
        ids = [item.id for item in task_module(task).ITEMS]  # the prompt set's order, as triage reads it
        for depth, checkpoint in checkpoints.items():
            stored = float(rows[depth].get("eval_loss") or math.nan)
            if math.isfinite(stored):
                loss_ok = loss_ok and math.isclose(_eval_loss(checkpoint), stored, rel_tol=1e-9, abs_tol=1e-12)
            probs[depth] = answer_probs(checkpoint, ids, task)
        report = triage(checkpoints[max(checkpoints)], config, s.triage_samples, probe=False)
        counts_ok = [list(c) for c in counts(report)] == rows[max(checkpoints)]["features"]["prompt_counts"]
        counts_ok = counts_ok and [p.id for p in report.prompts] == ids
    result = {"commit": commit(), "task": task, "seed": seed, "eval_loss_equal": loss_ok,
              "deepest_counts_equal": counts_ok, "answer_probs": {str(d): list(p) for d, p in probs.items()}}
    target = out / "answers" / f"{task}-seed{seed}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.ladder.remeasure", description=__doc__)
    p.add_argument("--task", choices=("digits", "hump"), default="hump")
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    for seed in args.seeds:
        r = remeasure(args.task, seed, Path(args.out))
        print(f"{args.task} seed {seed}: eval loss equal {r['eval_loss_equal']}, deepest counts equal "
              f"{r['deepest_counts_equal']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
