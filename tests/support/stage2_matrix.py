"""Stage-2 runs on the toy task: ``python -m tests.support.stage2_matrix OUT`` (about 2 minutes on 2 cores).

Real TRL GRPO from one tiny SFT checkpoint: two rewards (the task's own, and "seven", which one answer satisfies
for every prompt: an easy reward the model learns to its ceiling) × four learning rates × three seeds, 40 steps,
16 completions a step (g=4). Each run's outcome is measured by sampling its final model (16 per prompt at T=1):
it *collapsed* when its pass@10 under its own reward fell below the SFT checkpoint's (the per-prompt pass
counts are kept too, for the noise-aware oracle). Writes OUT/<run>/ (logs
through rankinv's callback), OUT/rankinv.toml (the stage-2 windows scaled to 40 steps) and OUT/outcomes.json;
``python -m examples.ladder.stage2 --matrix OUT`` replays every run under both stage-2 policies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rankinv.passk import mean_pass_at_k
from tests.support.grpo_job import _collapse_reward
from tests.support.tinylm import ToyTask, run_grpo, sampled_passes, save_base, sft, task_reward

SAMPLES = 16
STEPS = 40
TOML = """[monitor]
baseline_step = 2
decision_step = 15
signal_window = 4
slope_window = 10
[verdict]
warmup_steps = 5
hold_steps = 4
"""


def _pass(passes: list[int], k: int) -> float:
    return mean_pass_at_k([SAMPLES] * len(passes), passes, k)


def main(out: Path) -> int:
    import torch

    from rankinv.integrations.trl import RankinvCallback

    torch.set_num_threads(1)
    task = ToyTask()
    rewards = {"seven": _collapse_reward, "task": task_reward(task)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "rankinv.toml").write_text(TOML)
    model = sft(save_base(out / "base", task), task.sft_rows(), out / "sft", epochs=10)
    start = {name: sampled_passes(model, task.prompts(), r, SAMPLES) for name, r in rewards.items()}
    rows = []
    for rname, reward in rewards.items():
        for lr in (1e-4, 1e-2, 5e-2, 2e-1):
            for seed in (0, 1, 2):
                name = f"{rname}-lr{lr:g}-s{seed}"
                run_grpo(model, task.prompts(), [reward], out / name, callbacks=[RankinvCallback()],
                         max_steps=STEPS, learning_rate=lr, seed=seed, per_device_train_batch_size=16,
                         save_strategy="steps", save_steps=STEPS)  # fmt: skip
                end = sampled_passes(out / name / f"checkpoint-{STEPS}", task.prompts(), reward, SAMPLES)
                rows.append({"run": name, "steps": STEPS, "start_pass10": _pass(start[rname], 10),
                             "end_pass10": _pass(end, 10), "end_pass1": _pass(end, 1),
                             "start_counts": [[c, SAMPLES] for c in start[rname]],
                             "end_counts": [[c, SAMPLES] for c in end]})  # fmt: skip
                print(name, rows[-1]["end_pass10"], flush=True)
    (out / "outcomes.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
