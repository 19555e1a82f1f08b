"""A GRPO training job for a cluster: TRL's GRPOTrainer with rankinv's callback, saving and stopping on SIGUSR1.

    python examples/slurm/grpo_train.py --model SFT_CHECKPOINT --output-dir RUNS_ROOT/RUN \\
        --prompts prompts.jsonl --reward my_rewards:passes_tests

``--prompts`` is JSONL with a ``prompt`` per line (other keys reach the reward function as dataset columns, as in
``rankinv triage``); ``--reward`` is a TRL reward function as ``module:function`` or ``path/file.py:function``.
On SIGUSR1 (Slurm's ``--signal=B:USR1@120`` via ``grpo.sbatch``'s trap, or rankinv's graceful kill) the trainer
finishes the current step, saves a checkpoint and exits 0; rerunning the same command resumes from it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


class SaveAndStopOnSignal(TrainerCallback):  # type: ignore[misc]
    """Turns a signal into 'save a checkpoint at the end of this step, then stop' (never mid-step)."""

    def __init__(self, signum: int = signal.SIGUSR1) -> None:
        self.requested = False
        signal.signal(signum, self._request)

    def _request(self, signum: int, frame: Any) -> None:
        print(f"grpo_train: signal {signum} received; saving at the end of this step, then stopping", flush=True)
        self.requested = True

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        return control


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="SFT checkpoint directory (or hub name) to start from")
    p.add_argument("--output-dir", required=True, help="the run directory, inside the runs root rankinv watches")
    p.add_argument("--prompts", required=True, help="JSONL, one object with a 'prompt' per line")
    p.add_argument("--reward", required=True, help="TRL reward function: module:function or file.py:function")
    p.add_argument("--group-size", type=int, default=8, help="GRPO num_generations (g)")
    p.add_argument("--max-steps", type=int, default=500)
    p.add_argument("--learning-rate", type=float, default=1e-6)
    p.add_argument("--max-completion-length", type=int, default=1024)
    p.add_argument("--save-steps", type=int, default=50)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rankinv.integrations.trl import RankinvCallback
    from rankinv.triage.rewards import load_function

    a = parse(argv)
    rows = [json.loads(line) for line in Path(a.prompts).read_text().splitlines() if line.strip()]
    config = GRPOConfig(output_dir=a.output_dir, num_generations=a.group_size, max_steps=a.max_steps,
                        learning_rate=a.learning_rate, max_completion_length=a.max_completion_length,
                        temperature=1.0, logging_steps=1, save_steps=a.save_steps)
    trainer = GRPOTrainer(model=a.model, reward_funcs=[load_function(a.reward)], args=config,
                          train_dataset=Dataset.from_list(rows),
                          callbacks=[RankinvCallback(), SaveAndStopOnSignal()])
    resume = any(Path(a.output_dir).glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
