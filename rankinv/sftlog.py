"""The SFT run's own log at a checkpoint: its generalization (held-out) loss, as Kang et al. 2025 read it.

"Quagmires in SFT-RL post-training" (arXiv 2510.01624) found the SFT run's loss on held-out data a stronger proxy
for the outcome after RL than the SFT model's own scores. A checkpoint written by the HF/TRL trainer carries its
``trainer_state.json``, whose ``log_history`` holds every ``eval_loss`` the run logged up to that checkpoint; this
reads it through the ingest reader (untrusted input: a missing, oversized or malformed file gives no value, never
an error). Two numbers: the eval loss at the checkpoint (the last one logged) and the lowest one logged so far —
their ratio above 1 says the run has passed its best held-out loss (over-training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rankinv.ingest.trainer_state import STATE_NAME, TrainerStateReader

EVAL_LOSS = "eval/loss"


@dataclass(frozen=True)
class SftLog:
    """The SFT run's held-out loss at a checkpoint; ``points`` is how many eval_loss values were logged."""

    eval_loss: float
    eval_loss_min: float
    points: int
    step: int

    @property
    def eval_loss_rise(self) -> float:
        """Eval loss at the checkpoint over the lowest one logged so far (1 = at its best)."""
        return self.eval_loss / self.eval_loss_min if self.eval_loss_min > 0 else math.nan


def read_sft_log(checkpoint: str | Path) -> SftLog | None:
    """The eval-loss summary of ``checkpoint/trainer_state.json``; None when it logged no finite eval_loss."""
    state = Path(checkpoint) / STATE_NAME
    if not state.is_file():
        return None
    found, _ = TrainerStateReader(state, "sft").read_new()
    losses = sorted((p.step, p.value) for p in found if p.name == EVAL_LOSS and math.isfinite(p.value))
    if not losses:
        return None
    values = [v for _, v in losses]
    return SftLog(eval_loss=values[-1], eval_loss_min=min(values), points=len(values), step=losses[-1][0])
