"""A real GRPO job that records what TRL asks its reward function to score: ``python -m tests.support.groups_job
SPEC_JSON`` (``model_dir``, ``out_dir``, ``config``: GRPOConfig overrides), alone or under ``accelerate launch``.

Each process appends one JSON line per scored batch to ``scored-rank<RANK>.jsonl`` (its prompts, in TRL's order,
and the 0/1 rewards returned); rank zero also writes ``marks.jsonl``, the batches it had scored by each log that
carries ``frac_reward_zero_std``, and attaches rankinv's callback. The oracle of ``tests/test_trl_groups.py``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.support.tinylm import ToyTask, grpo_config


def main(spec_json: str) -> int:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOTrainer

    from rankinv.integrations.trl import RankinvCallback

    spec = json.loads(spec_json)
    out, rank = Path(spec["out_dir"]), int(os.environ.get("RANK", "0"))
    scored = {"n": 0}

    def parity(prompts: list[str], completions: list[str], **_: Any) -> list[float]:
        rewards = [float(len(c) % 2) for c in completions]
        with (out / f"scored-rank{rank}.jsonl").open("a") as f:
            f.write(json.dumps({"prompts": list(prompts), "rewards": rewards}) + "\n")
        scored["n"] += 1
        return rewards

    class Mark(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if state.is_world_process_zero and logs and "frac_reward_zero_std" in logs:
                with (out / "marks.jsonl").open("a") as f:
                    f.write(json.dumps({"step": state.global_step, "scored": scored["n"],
                                        "share": logs["frac_reward_zero_std"]}) + "\n")  # fmt: skip

    tok = AutoTokenizer.from_pretrained(spec["model_dir"])
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(spec["model_dir"]),
        reward_funcs=[parity],
        args=grpo_config(spec["out_dir"], **spec.get("config", {})),
        train_dataset=Dataset.from_list([{"prompt": p} for p in ToyTask().prompts()]),
        processing_class=tok,
        callbacks=[RankinvCallback(), Mark()],
    )
    trainer.train()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
