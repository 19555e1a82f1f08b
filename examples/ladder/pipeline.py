"""The ladder end to end: base model, one SFT run with a checkpoint per depth, then one rung per depth."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from examples.ladder import tinymodel
from examples.ladder.rung import Row, measure
from examples.ladder.settings import LadderSettings, rankinv_toml
from examples.ladder.tasks import eval_rows, reward_spec, task_module
from rankinv.config import Config, load_config

Log = Callable[[str], None]


def prepare(out: Path, s: LadderSettings) -> Config:
    """Write the prompt set and ``rl/rankinv.toml`` (read by the ladder and by ``rankinv explain``)."""
    (out / "rl").mkdir(parents=True, exist_ok=True)
    prompts = task_module(s.task).write_prompt_set(out / "prompts.jsonl").resolve()
    config_path = out / "rl" / "rankinv.toml"
    config_path.write_text(rankinv_toml(s, str(prompts), reward_spec(s.task)), encoding="utf-8")
    return load_config(config_path)


def sft_ladder(out: Path, s: LadderSettings) -> dict[int, Path]:
    """An untrained tiny model, then SFT on the canonical answers, saving a checkpoint at every depth (and
    logging eval_loss on the task's held-out SFT rows, when it has them)."""
    task = task_module(s.task)
    base = tinymodel.save_base(out / "base", task.corpus(), seed=s.seed, hidden=s.hidden, layers=s.layers)
    return tinymodel.sft(base, task.sft_rows(), out / "sft", steps=s.depths, learning_rate=s.sft_learning_rate,
                         batch_size=s.sft_batch_size, seed=s.seed, eval_rows=eval_rows(s.task))


def run_ladder(out: Path, s: LadderSettings, log: Log = print) -> list[Row]:
    import torch

    tinymodel.quiet_output()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention on a shared machine
    torch.manual_seed(s.seed)
    config = prepare(out, s)
    clock = time.monotonic()
    checkpoints = sft_ladder(out, s)
    log(f"SFT: one run of {max(s.depths)} steps, checkpoints at {', '.join(map(str, s.depths))} "
        f"({time.monotonic() - clock:.0f} s)")
    rows = []
    for depth, checkpoint in checkpoints.items():
        clock = time.monotonic()
        row = measure(depth, checkpoint, out / "rl" / f"depth-{depth:04d}", s, config)
        log(f"depth {depth:>4}: pass@1 {row.pass1:.3f}  entropy {row.entropy:.3f}  predicted {row.predicted:.3f}  "
            f"actual pass@10 {row.actual:.3f}  stage 1 {row.stage1}  stage 2 {row.stage2} "
            f"({time.monotonic() - clock:.0f} s)")
        rows.append(row)
    return rows
