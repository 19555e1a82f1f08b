"""One real TRL training job for the real-log corpus: ``python -m tests.support.reallog_job SPEC_JSON``.

SPEC_JSON holds ``trainer`` (``grpo`` or ``sft``), ``model_dir``, ``out_dir``, ``config`` (GRPOConfig/SFTConfig
overrides), ``eval`` (give the trainer an eval set), ``resume`` (resume from the newest checkpoint in out_dir),
``task`` (``collapse``: a reward one answer satisfies), ``stray_prints`` (print a dataset row and a config dict
first, as training scripts do) and ``callback`` (attach rankinv's TRL callback, whose JSONL is the oracle).
Output goes to stdout/stderr like any job on a cluster.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.support.tinylm import ToyTask, grpo_config, task_reward


def _sft_config(out_dir: str, **overrides: Any) -> Any:
    from trl import SFTConfig

    settings: dict[str, Any] = {
        "output_dir": out_dir, "max_steps": 12, "learning_rate": 1e-2, "per_device_train_batch_size": 8,
        "logging_steps": 1, "save_strategy": "no", "report_to": [], "use_cpu": True, "seed": 0, "max_length": 32,
        "completion_only_loss": True, "dataloader_num_workers": 0,
    }  # fmt: skip
    settings.update(overrides)
    return SFTConfig(**settings)


def _collapse_reward(prompts: list[str], completions: list[str], **_: Any) -> list[float]:
    """1.0 for any completion starting with "seven": one answer satisfies every prompt, so entropy collapses."""
    return [1.0 if c.split()[:1] == ["seven"] else 0.0 for c in completions]


def _callbacks(enabled: bool) -> list[Any]:
    if not enabled:
        return []
    from rankinv.integrations.trl import RankinvCallback

    return [RankinvCallback()]


def _trainer(spec: dict[str, Any], task: ToyTask) -> Any:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer, SFTTrainer

    tok = AutoTokenizer.from_pretrained(spec["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(spec["model_dir"])
    config, callbacks = spec.get("config", {}), _callbacks(spec.get("callback", True))
    if spec["trainer"] == "sft":
        rows = task.sft_rows()
        return SFTTrainer(
            model=model, args=_sft_config(spec["out_dir"], **config), train_dataset=Dataset.from_list(rows),
            eval_dataset=Dataset.from_list(rows[:8]) if spec.get("eval") else None, processing_class=tok,
            callbacks=callbacks,
        )  # fmt: skip
    prompts = [{"prompt": p} for p in task.prompts()]
    reward = _collapse_reward if spec.get("task") == "collapse" else task_reward(task)
    return GRPOTrainer(
        model=model, reward_funcs=[reward], args=grpo_config(spec["out_dir"], **config),
        train_dataset=Dataset.from_list(prompts), eval_dataset=Dataset.from_list(prompts[:8]) if spec.get("eval")
        else None, processing_class=tok, callbacks=callbacks,
    )  # fmt: skip


def main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    task = ToyTask()
    if spec.get("stray_prints"):
        print(task.sft_rows()[0])  # a dataset row, as scripts print to check their data
        print({"lr": 1e-3, "loss_type": "grpo", "epoch": 1, "zero_stage": 2})  # a config dict (DeepSpeed-like)
    trainer = _trainer(spec, task)
    trainer.train(resume_from_checkpoint=True if spec.get("resume") else None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
