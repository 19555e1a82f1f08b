"""Binary rewards for triage, chosen to score exactly what GRPO will reward.

- ``tests``: run the program against the prompt's unit tests in :mod:`rankinv.triage.sandbox` (opt-in).
- ``exact`` / ``normalized``: compare the completion with the prompt's ``answer``.
- ``module:function`` or ``path/to/file.py:function``: the user's own TRL reward function, called with
  GRPOTrainer's signature ``f(prompts=, completions=, completion_ids=, **dataset_columns)``; a rollout
  passes when its reward is at least ``pass_threshold``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rankinv.errors import RankinvError
from rankinv.triage.prompts import Prompt
from rankinv.triage.sandbox import ExecLimits, Sandbox

FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


@dataclass(frozen=True)
class Sample:
    """One rollout to score."""

    prompt: Prompt
    completion: str
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Score:
    reward: float
    passed: bool
    status: str
    """pass / fail, or for unit tests also timeout / oom."""


class Reward(Protocol):
    name: str

    def score(self, samples: Sequence[Sample]) -> list[Score]: ...


def build_program(prompt: Prompt, completion: str) -> str:
    """The program a unit-test reward runs: the solution, the tests, and ``check(entry_point)``."""
    fenced = FENCE.findall(completion)
    body = fenced[0] if fenced else prompt.code_prefix + completion
    call = f"\n\ncheck({prompt.entry_point})\n" if prompt.entry_point else "\n"
    return f"{body}\n\n{prompt.tests or ''}{call}"


class UnitTestReward:
    name = "tests"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        results = self.sandbox.run_many([build_program(s.prompt, s.completion) for s in samples])
        return [Score(1.0 if r.status == "pass" else 0.0, r.status == "pass", r.status) for r in results]


def normalize_answer(text: str) -> str:
    """Lower-case, squeeze spaces, strip punctuation, take the last ``\\boxed{}``; numbers compare by value."""
    boxed = BOXED.findall(text)
    text = boxed[-1] if boxed else text
    text = re.sub(r"\s+", " ", text.strip().lower()).strip(" .,:;!?\"'`")
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return text
    return repr(value) if math.isfinite(value) else text


class MatchReward:
    def __init__(self, normalized: bool) -> None:
        self.normalized = normalized
        self.name = "normalized" if normalized else "exact"

    def _match(self, completion: str, answer: str) -> bool:
        if self.normalized:
            return normalize_answer(completion) == normalize_answer(answer)
        return completion.strip() == answer.strip()

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        out = []
        for s in samples:
            ok = self._match(s.completion, s.prompt.answer or "")
            out.append(Score(float(ok), ok, "pass" if ok else "fail"))
        return out


class UserReward:
    """The user's TRL reward function, called once per batch as GRPOTrainer calls it."""

    def __init__(self, spec: str, fn: Callable[..., Any], pass_threshold: float, conversational: bool) -> None:
        self.name, self.fn = spec, fn
        self.pass_threshold, self.conversational = pass_threshold, conversational

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        try:
            values = self.fn(**self._kwargs(samples))
        except Exception as exc:  # the user's code: report it as their error, with the cause chained
            raise RankinvError(f"reward {self.name} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(values, (list, tuple)) or len(values) != len(samples):
            raise RankinvError(f"reward {self.name} must return a list of {len(samples)} numbers, got {values!r:.80}")
        return [self._to_score(v) for v in values]

    def _to_score(self, value: Any) -> Score:
        reward = math.nan if value is None else float(value)
        ok = reward >= self.pass_threshold
        return Score(reward, ok, "pass" if ok else "fail")

    def _kwargs(self, samples: Sequence[Sample]) -> dict[str, Any]:
        prompts: list[Any] = [s.prompt.prompt for s in samples]
        completions: list[Any] = [s.completion for s in samples]
        if self.conversational:
            prompts = [[{"role": "user", "content": p}] for p in prompts]
            completions = [[{"role": "assistant", "content": c}] for c in completions]
        columns = _columns([s.prompt for s in samples])
        return {
            "prompts": prompts, "completions": completions, "completion_ids": [list(s.token_ids) for s in samples],
            "trainer_state": None, "log_extra": _ignore, "log_metric": _ignore, **columns,
        }


def _ignore(*_: Any, **__: Any) -> None:
    """Stand-in for GRPOTrainer's log_extra / log_metric hooks: triage has no completions table."""


def _columns(prompts: Sequence[Prompt]) -> dict[str, list[Any]]:
    """Dataset columns as GRPOTrainer passes them: every key but the prompt, one value per rollout."""
    keys = ["id", "answer", "tests", "entry_point"]
    extra_keys = sorted({k for p in prompts for k in p.extra})
    columns = {k: [getattr(p, k) for p in prompts] for k in keys if any(getattr(p, k) is not None for p in prompts)}
    columns.update({k: [p.extra.get(k) for p in prompts] for k in extra_keys})
    return columns


def load_function(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` or ``path/to/file.py:function``; the current directory is importable."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise RankinvError(f"reward {spec!r}: expected module:function or path/to/file.py:function")
    module = _import_file(module_name) if module_name.endswith(".py") else _import_module(module_name)
    fn: object = getattr(module, attr, None)
    if not callable(fn):
        raise RankinvError(f"reward {spec!r}: {module_name} has no function {attr!r}")
    return fn


def _import_module(name: str) -> Any:
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RankinvError(f"reward module {name!r} cannot be imported: {exc}") from None


def _import_file(path: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise RankinvError(f"reward file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"rankinv_user_reward_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise RankinvError(f"reward file {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def make_reward(
    spec: str,
    prompts: Sequence[Prompt],
    *,
    allow_code_exec: bool,
    pass_threshold: float = 0.5,
    conversational: bool = False,
    limits: ExecLimits | None = None,
) -> Reward:
    """Pick the reward: ``auto`` uses unit tests when every prompt has them, else normalised answer match."""
    if spec == "auto":
        spec = "tests" if all(p.tests for p in prompts) else "normalized"
    if spec == "tests":
        _require(prompts, "tests", "unit-test reward")
        return UnitTestReward(Sandbox(limits, allowed=allow_code_exec))
    if spec in ("exact", "normalized", "normalised"):
        _require(prompts, "answer", f"{spec} match reward")
        return MatchReward(normalized=spec != "exact")
    return UserReward(spec, load_function(spec), pass_threshold, conversational)


def _require(prompts: Sequence[Prompt], key: str, what: str) -> None:
    missing = [p.id for p in prompts if getattr(p, key) is None]
    if missing:
        shown = ", ".join(missing[:3])
        raise RankinvError(f"the {what} needs {key!r} on every prompt; missing on {len(missing)} (e.g. {shown})")
