"""The minimal rankinv integration for a TRL GRPO job: the lines marked ★ are all it takes.

The callback appends every log record to ``<output_dir>/rankinv.jsonl`` and writes ``rankinv-run.json`` (group size,
temperature, reward names, the checkpoint you started from, the Slurm job), from rank zero only. Point the daemon at
the parent of ``output_dir`` (``rankinv daemon ~/runs``) and it follows the run: live entropy, group signal,
predicted pass@10 and a verdict. The model and data below are placeholders for yours.
"""

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from rankinv.integrations.trl import RankinvCallback  # ★


def reward(completions: list[str], **kwargs: object) -> list[float]:
    """Your verifiable binary reward (here: says 'four' to 'two plus two is')."""
    return [1.0 if c.strip().startswith("four") else 0.0 for c in completions]


if __name__ == "__main__":
    trainer = GRPOTrainer(
        model="Qwen/Qwen2.5-0.5B-Instruct",  # your SFT checkpoint
        reward_funcs=[reward],
        args=GRPOConfig(output_dir="runs/grpo-example", num_generations=8, logging_steps=1),  # ★ inside the root
        train_dataset=Dataset.from_list([{"prompt": "two plus two is"}] * 64),
        callbacks=[RankinvCallback()],  # ★
    )
    trainer.train()  # ★ then: rankinv daemon runs  (or: rankinv explain runs/grpo-example)
