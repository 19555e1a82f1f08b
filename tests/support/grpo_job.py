"""A real GRPO training job for tests: ``python -m tests.support.grpo_job SPEC_JSON``.

SPEC_JSON holds model_dir, out_dir, task ("toy": ToyTask with its valid-answer reward; "collapse": a reward
that one fixed answer satisfies), callback (attach rankinv's TRL callback if it exists) and config
(GRPOConfig overrides). Logs go to stdout like any TRL job.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

from tests.support.tinylm import ToyTask, grpo_config, task_reward


def _collapse_reward(prompts: list[str], completions: list[str], **_: Any) -> list[float]:
    """1.0 for any completion starting with "seven": one answer satisfies every prompt."""
    return [1.0 if c.split()[:1] == ["seven"] else 0.0 for c in completions]


def _callbacks(enabled: bool) -> list[Any]:
    if not enabled:
        return []
    try:
        module = importlib.import_module("rankinv.integrations.trl")
    except ImportError:
        return []
    return [module.RankinvCallback()]


def main(spec_json: str) -> int:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    spec = json.loads(spec_json)
    task = ToyTask()
    reward = _collapse_reward if spec.get("task") == "collapse" else task_reward(task)
    tok = AutoTokenizer.from_pretrained(spec["model_dir"])
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(spec["model_dir"]),
        reward_funcs=[reward],
        args=grpo_config(spec["out_dir"], **spec.get("config", {})),
        train_dataset=Dataset.from_list([{"prompt": p} for p in task.prompts()]),
        processing_class=tok,
        callbacks=_callbacks(spec.get("callback", True)),
    )
    trainer.train()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
