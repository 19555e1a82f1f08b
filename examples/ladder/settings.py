"""The ladder's settings, fixed before any result was seen, and the rankinv.toml its runs are judged with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class LadderSettings:
    """One SFT run saves a checkpoint at each depth (optimiser steps; linear LR decay to ``max(depths)``)."""

    depths: tuple[int, ...] = (30, 60, 90, 150, 210, 300)
    sft_learning_rate: float = 3e-3
    sft_batch_size: int = 8
    hidden: int = 64
    layers: int = 2
    group_size: int = 8
    rl_steps: int = 30
    rl_learning_rate: float = 3e-3
    rl_batch_size: int = 32
    """Completions per GRPO step: rl_batch_size / group_size prompts."""
    max_completion_length: int = 4
    triage_samples: int = 16
    eval_samples: int = 32
    seed: int = 0
    task: str = "digits"
    """``digits``, ``hump`` or ``collapse`` (:mod:`examples.ladder.tasks`)."""
    decision_fraction: float = 1.0
    """Stage 2's decision step as a share of the run (the paper's is 150 of 400 steps: 0.375)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = LadderSettings()
QUICK = LadderSettings(depths=(30, 120, 300), rl_steps=6, triage_samples=8, eval_samples=10)
HUMP = LadderSettings(depths=(2, 5, 10, 20, 40, 80, 160, 320, 640), rl_steps=60, rl_learning_rate=1e-3, task="hump",
                      decision_fraction=150 / 400)
HUMP_QUICK = replace(HUMP, depths=(2, 20, 160), rl_steps=6, triage_samples=8, eval_samples=10)
COLLAPSE = replace(HUMP, rl_learning_rate=1e-2, task="collapse")
"""The hump ladder with a GRPO learning rate ten times larger: on the development seeds most rungs from 80 SFT
steps on collapse onto one answer per prompt (entropy near zero, every group agrees, pass@10 falls far beyond
its noise) while the shallow rungs gain; chosen looking at development seeds 0 and 1 only (``VALIDATION.md``)."""
COLLAPSE_QUICK = replace(COLLAPSE, depths=(2, 20, 160), rl_steps=6, triage_samples=8, eval_samples=10)
PRESETS = {("digits", False): FULL, ("digits", True): QUICK, ("hump", False): HUMP, ("hump", True): HUMP_QUICK,
           ("collapse", False): COLLAPSE, ("collapse", True): COLLAPSE_QUICK}


def decision_step(s: LadderSettings) -> int:
    """Stage 2's decision step for a run of ``s.rl_steps``: ``decision_fraction`` of it, at least step 2."""
    return max(2, round(s.rl_steps * s.decision_fraction))


def rankinv_toml(s: LadderSettings, prompts: str, reward: str) -> str:
    """Stage-1 and stage-2 settings for this ladder.

    The paper judges the entropy drop from step 10 to step 150 of a long run; the ladder's runs are
    ``rl_steps`` long, so the window is scaled to them (baseline at 1/15 of the run, decision at
    ``decision_fraction`` of it, warm-up and hold at 1/6). tau_h, tau_2 and every other threshold keep rankinv's
    defaults. The groups a step are stated, as the trainer's batch fixes them, for the sequential coverage test.
    """
    sixth = max(2, s.rl_steps // 6)
    return "\n".join([
        "[triage]",
        f"samples = {s.triage_samples}",
        f"group_size = {s.group_size}",
        f"max_new_tokens = {s.max_completion_length}",
        f"seed = {s.seed}",
        f'prompts = "{prompts}"',
        f'reward = "{reward}"',
        'backend = "transformers"',
        "",
        "[monitor]",
        f"baseline_step = {max(1, s.rl_steps // 15)}",
        f"decision_step = {decision_step(s)}",
        f"slope_window = {s.rl_steps}",
        f"signal_window = {sixth}",
        "",
        "[verdict]",
        f"warmup_steps = {sixth}",
        f"hold_steps = {sixth}",
        f"groups_per_step = {groups_per_step(s)}",
        "",
    ])


def groups_per_step(s: LadderSettings) -> int:
    """Groups of ``group_size`` behind each logged GRPO step: the batch of completions over the group size (one
    step a log point)."""
    return s.rl_batch_size // s.group_size
