"""The hump ladder's task: name a number from zero to nineteen (in words) that satisfies a relation.

Built so that both sides of the SFT-depth hump can show on a CPU:

- the answer space is twenty words among a few hundred tokens, so a model that has not yet learnt the format
  almost never samples a valid first word (pass rate below p*(g): groups all fail, GRPO cannot start);
- SFT shows one canonical answer for ``"a number bigger than X is"`` (X+1) and ``"a number smaller than X is"``
  (X-1), though every number above (below) X is right, so long SFT collapses a spread of valid answers onto one;
- RL also trains on ``"a number far from X is"`` (any number at least five away from X), never in SFT: the
  canonical habits X±1 are always wrong there, and only a checkpoint that still samples widely finds a right
  answer often enough for its groups to differ.

The SFT run's held-out data (its ``eval_loss``) is the seen relations at the X values left out of SFT
(X = 3, 7, 11, 15, 19 and 3, 7, 11, 15): data of the SFT distribution the model was not trained on.
pass@k is measured on all RL prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from examples.ladder import task

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
           "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TOP = len(NUMBERS) - 1
FAR = 5
"""``far from X`` means at least this far from X."""


@dataclass(frozen=True)
class Item(task.Item):
    """A prompt of the digits task's kind, with the X its relation is about (SFT's held-out rows are chosen by X)."""

    x: int


def _items() -> tuple[Item, ...]:
    out = []
    for x in range(len(NUMBERS)):
        word = NUMBERS[x]
        if x < TOP:
            out.append(Item(f"bigger-{x}", f"a number bigger than {word} is", frozenset(NUMBERS[x + 1 :]),
                            NUMBERS[x + 1], x))
        if x > 0:
            out.append(Item(f"smaller-{x}", f"a number smaller than {word} is", frozenset(NUMBERS[:x]),
                            NUMBERS[x - 1], x))
        far = frozenset(n for i, n in enumerate(NUMBERS) if abs(i - x) >= FAR)
        out.append(Item(f"far-{x}", f"a number far from {word} is", far, None, x))
    return tuple(out)


ITEMS = _items()
VALID = {item.prompt: item.valid for item in ITEMS}


def _held_out_x(x: int) -> bool:
    return x % 4 == 3


def sft_rows() -> list[dict[str, str]]:
    """Prompt/completion rows for TRL's SFTTrainer: the seen relations with their canonical answer."""
    return [{"prompt": i.prompt, "completion": " " + i.canonical} for i in ITEMS
            if i.canonical is not None and not _held_out_x(i.x)]


def sft_eval_rows() -> list[dict[str, str]]:
    """The SFT run's held-out data: the seen relations at the X values left out of ``sft_rows``."""
    return [{"prompt": i.prompt, "completion": " " + i.canonical} for i in ITEMS
            if i.canonical is not None and _held_out_x(i.x)]


def rl_prompts() -> list[str]:
    """Every prompt: GRPO trains on these and pass@k is measured on them."""
    return [i.prompt for i in ITEMS]


def corpus() -> list[str]:
    """Text the tokenizer is trained on."""
    return [*rl_prompts(), " ".join(NUMBERS)]


def first_word_valid(prompt: str, completion: str) -> bool:
    return task.first_word_in(VALID, prompt, completion)


def reward(prompts: Sequence[str], completions: Sequence[str], **_: Any) -> list[float]:
    """The binary verifiable reward, as a TRL reward function (also named by rankinv triage as
    ``examples.ladder.hump:reward``): 1.0 when the completion's first word is a valid answer."""
    return [float(first_word_valid(p, c)) for p, c in zip(prompts, completions, strict=True)]


def write_prompt_set(path: str | Path) -> Path:
    """The RL prompts as a rankinv triage prompt set."""
    return task.write_items(ITEMS, path)
