"""The ladder's task: name a digit (in words) that satisfies a relation; the first word of a completion is scored.

Many answers are right for most prompts, but SFT always shows one canonical answer, so long SFT collapses a
spread of valid answers onto one. Two relations are in the SFT data, two are held out of it:

- seen in SFT: ``"a number bigger than X is"`` (SFT shows X+1; any digit above X is right) and
  ``"a number smaller than X is"`` (SFT shows X-1; any digit below X is right);
- held out of SFT, met first in RL: ``"a number much bigger than X is"`` (X+2 or more) and
  ``"a number much smaller than X is"`` (X-2 or less). There the canonical habit (X±1) is wrong.

RL trains on all four relations and pass@k is measured on the same prompts: the held-out half is where a
collapsed checkpoint must explore to learn anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Item:
    """One prompt: its valid answers, the answer SFT shows (None when held out of SFT)."""

    id: str
    prompt: str
    valid: frozenset[str]
    canonical: str | None


def _items() -> tuple[Item, ...]:
    out = []
    for x in range(10):
        if x < 9:
            out.append(Item(f"bigger-{x}", f"a number bigger than {DIGITS[x]} is", frozenset(DIGITS[x + 1 :]),
                            DIGITS[x + 1]))
        if x > 0:
            out.append(Item(f"smaller-{x}", f"a number smaller than {DIGITS[x]} is", frozenset(DIGITS[:x]),
                            DIGITS[x - 1]))
        if x < 8:
            out.append(Item(f"much-bigger-{x}", f"a number much bigger than {DIGITS[x]} is",
                            frozenset(DIGITS[x + 2 :]), None))
        if x > 1:
            out.append(Item(f"much-smaller-{x}", f"a number much smaller than {DIGITS[x]} is",
                            frozenset(DIGITS[: x - 1]), None))
    return tuple(out)


ITEMS = _items()
VALID = {item.prompt: item.valid for item in ITEMS}


def sft_rows() -> list[dict[str, str]]:
    """Prompt/completion rows for TRL's SFTTrainer: the seen relations with their canonical answer."""
    return [{"prompt": i.prompt, "completion": " " + i.canonical} for i in ITEMS if i.canonical is not None]


def rl_prompts() -> list[str]:
    """Every prompt, seen and held out: GRPO trains on these and pass@k is measured on them."""
    return [i.prompt for i in ITEMS]


def corpus() -> list[str]:
    """Text the tokenizer is trained on."""
    return [*rl_prompts(), " ".join(DIGITS)]


def first_word_in(valid: Mapping[str, frozenset[str]], prompt: str, completion: str) -> bool:
    """The completion's first word is one of the prompt's valid answers (a task's reward, for any task's table)."""
    words = completion.split()
    return bool(words) and words[0] in valid.get(prompt.strip(), frozenset())


def first_word_valid(prompt: str, completion: str) -> bool:
    return first_word_in(VALID, prompt, completion)


def reward(prompts: Sequence[str], completions: Sequence[str], **_: Any) -> list[float]:
    """The binary verifiable reward, as a TRL reward function (also named by rankinv triage as
    ``examples.ladder.task:reward``): 1.0 when the completion's first word is a valid answer."""
    return [float(first_word_valid(p, c)) for p, c in zip(prompts, completions, strict=True)]


class Prompted(Protocol):
    id: str
    prompt: str
    valid: frozenset[str]


def write_items(items: Iterable[Prompted], path: str | Path) -> Path:
    """Items as a rankinv triage prompt set (JSONL: id, prompt, and the valid answers for reading)."""
    target = Path(path)
    lines = [json.dumps({"id": i.id, "prompt": i.prompt, "valid": sorted(i.valid)}) for i in items]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def write_prompt_set(path: str | Path) -> Path:
    """The RL prompts as a rankinv triage prompt set."""
    return write_items(ITEMS, path)
