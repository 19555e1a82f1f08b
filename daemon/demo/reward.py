"""The demo task's binary reward, shipped with the package so ``rankinv demo`` runs from a plain install.

The prompt set (``runs/prompts.jsonl``) lists each prompt's ``valid`` answers; triage passes that column, as
GRPOTrainer passes dataset columns. A completion passes when its first word is one of them (the ladder task's
rule, ``examples/ladder/task.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def reward(prompts: Sequence[str], completions: Sequence[str], valid: Sequence[Sequence[str]], **_: Any) -> list[float]:
    out = []
    for completion, answers in zip(completions, valid, strict=True):
        words = completion.split()
        out.append(float(bool(words) and words[0] in set(answers or ())))
    return out
