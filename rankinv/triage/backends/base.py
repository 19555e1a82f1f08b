"""What every sampling backend returns, and the settings that make its sampling match GRPO's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Progress = Callable[[int], None]
"""Called with the number of rollouts just finished."""


@dataclass(frozen=True)
class SamplingSettings:
    """GRPO's rollout distribution: T (default 1), top_p 1, top_k off, no repetition penalty.

    These are always set explicitly so a checkpoint's ``generation_config.json`` (often T=0.7, top_k=20)
    cannot change what is measured.
    """

    samples: int = 8
    temperature: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0
    chat_template: bool | None = None
    """None: use the tokenizer's chat template when it has one."""
    batch_size: int = 32
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class Rollout:
    """One sampled completion, with what the entropy estimates need."""

    text: str
    token_ids: tuple[int, ...]
    truncated: bool
    logprobs: tuple[float, ...]
    """log-prob of each sampled token under the sampling distribution (after temperature)."""
    entropies: tuple[float, ...] | None
    """Exact entropy of the sampling distribution at each step; None when the backend cannot see it."""


class Backend(Protocol):
    name: str
    uses_chat_template: bool

    def sample(self, prompts: Sequence[str], settings: SamplingSettings, progress: Progress | None) -> list[
        list[Rollout]
    ]:
        """``settings.samples`` rollouts per prompt, in prompt order."""
        ...

    def probe_entropy(self, prompts: Sequence[str], temperature: float) -> list[npt.NDArray[np.float64]] | None:
        """Teacher-forced next-token entropy at each prompt position, per prompt; None if unsupported."""
        ...
