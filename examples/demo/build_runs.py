"""Build ``daemon/demo/runs/`` (package data): the real training runs ``rankinv demo`` replays. Run once; commit it.

    python -m examples.demo.build_runs daemon/demo/runs

Everything is real TRL on the CPU with rankinv's callback attached, on the ladder's digit task
(``examples/ladder/task.py``): one SFT run saving an early and a late checkpoint, then two GRPO runs — a
healthy one from the early checkpoint, and one from the late checkpoint at a learning rate high enough to
collapse its entropy. Checkpoints are saved model-only (no optimizer state) to keep the bundle small.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from examples.ladder import task
from examples.ladder.tinymodel import quiet_env, quiet_output, save_at, save_base

SFT_STEPS = (30, 300)
GRPO_STEPS = 40
PATHS_NOTE = "paths in manifests are rewritten by the replay to the demo's own root"


def _train(trainer: Any) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.train()


def build_sft(base: Path, out: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from rankinv.integrations.trl import RankinvCallback

    args = SFTConfig(
        output_dir=str(out), max_steps=max(SFT_STEPS), learning_rate=3e-3, per_device_train_batch_size=8,
        logging_steps=5, save_strategy="no", save_only_model=True, report_to=[], use_cpu=True, seed=0,
        max_length=32, completion_only_loss=True, disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(str(base)), args=args,
        train_dataset=Dataset.from_list(task.sft_rows()), processing_class=AutoTokenizer.from_pretrained(str(base)),
        callbacks=[save_at(SFT_STEPS), RankinvCallback()],
    )
    _train(trainer)


def build_grpo(checkpoint: Path, out: Path, learning_rate: float) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from rankinv.integrations.trl import RankinvCallback

    args = GRPOConfig(
        output_dir=str(out), max_steps=GRPO_STEPS, learning_rate=learning_rate, per_device_train_batch_size=32,
        num_generations=8, max_completion_length=4, temperature=1.0, logging_steps=1, save_strategy="no",
        report_to=[], use_cpu=True, seed=0, beta=0.0, disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(str(checkpoint)), reward_funcs=[task.reward], args=args,
        train_dataset=Dataset.from_list([{"prompt": p} for p in task.rl_prompts()]),
        processing_class=AutoTokenizer.from_pretrained(str(checkpoint)), callbacks=[RankinvCallback()],
    )
    _train(trainer)


def write_root_files(root: Path) -> None:
    task.write_prompt_set(root / "prompts.jsonl")  # the reward is examples.ladder.task:reward
    (root / "README.md").write_text(
        "Real tiny TRL runs replayed by `rankinv demo`. Built with `python -m examples.demo.build_runs`; "
        f"{PATHS_NOTE}.\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the runs (replaced)")
    args = parser.parse_args(argv)
    quiet_output()
    root: Path = args.out
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    work = root.parent / (root.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    with quiet_env():
        base = save_base(work / "base", task.corpus(), hidden=64, layers=2)
        build_sft(base, root / "sft-digits")
        early, late = (root / "sft-digits" / f"checkpoint-{s}" for s in SFT_STEPS)
        build_grpo(early, root / "grpo-from-early", learning_rate=3e-3)
        build_grpo(late, root / "grpo-from-late", learning_rate=5e-2)
    write_root_files(root)
    shutil.rmtree(work)
    sizes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(json.dumps({"root": str(root), "bytes": sizes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
