"""The ladder's tasks by name: ``digits`` (the first toy task), ``hump`` (built to show both sides of the hump) and
``collapse`` (the hump task's prompts and reward under GRPO settings in which runs collapse: ``settings.COLLAPSE``)."""

from __future__ import annotations

from types import ModuleType


def task_module(name: str) -> ModuleType:
    """The task's module: ``sft_rows``, ``rl_prompts``, ``corpus``, ``reward``, ``write_prompt_set`` and, when the
    SFT run has held-out data, ``sft_eval_rows``."""
    from examples.ladder import hump, task

    modules = {"digits": task, "hump": hump, "collapse": hump}
    if name not in modules:
        raise ValueError(f"unknown ladder task {name!r}; known: {', '.join(sorted(modules))}")
    return modules[name]


def reward_spec(name: str) -> str:
    """How rankinv triage names the task's reward (``module:function``)."""
    return f"{task_module(name).__name__}:reward"


def eval_rows(name: str) -> list[dict[str, str]]:
    """The SFT run's held-out rows (empty when the task has none)."""
    rows = getattr(task_module(name), "sft_eval_rows", None)
    return list(rows()) if rows is not None else []
