"""Stage-1 triage end to end: load, sample, score, probe, aggregate, flag, write the report."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rankinv import __version__, advantage
from rankinv.config import TriageConfig
from rankinv.errors import RankinvError
from rankinv.sftlog import read_sft_log
from rankinv.triage import aggregate
from rankinv.triage.backends import SamplingSettings, choose_backend, load_backend
from rankinv.triage.backends.base import Backend, Rollout
from rankinv.triage.flag import stage1_flag
from rankinv.triage.prompts import PromptSet, load_prompt_set
from rankinv.triage.report import REPORT_FILENAME, Sampling, Timing, TriageReport
from rankinv.triage.rewards import Reward, Sample, make_reward
from rankinv.triage.sandbox import ExecLimits

Phase = Callable[[str, int], Callable[[int], None]]
"""progress(phase description, total) → advance(n). The CLI renders it as a rich progress bar."""


@dataclass(frozen=True)
class TriageRequest:
    checkpoint: str
    prompts: str
    settings: SamplingSettings
    group_size: int = 8
    reward: str = "auto"
    backend: str = "auto"
    base_model: str | None = None
    limit: int | None = None
    probe: bool = True
    output: str | None = None
    """Where to write the report; default ``CHECKPOINT/rankinv-triage.json``; "" writes nothing."""


def settings_from_config(config: TriageConfig, **overrides: Any) -> SamplingSettings:
    base = SamplingSettings(samples=config.samples, temperature=config.temperature,
                            max_new_tokens=config.max_new_tokens, seed=config.seed, batch_size=config.batch_size)
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def validate(settings: SamplingSettings, group_size: int) -> None:
    problems = [
        (settings.samples < 2, f"--samples must be at least 2 (got {settings.samples}): one sample has no variance"),
        (settings.temperature <= 0, f"--temperature must be positive (got {settings.temperature}); GRPO samples at 1"),
        (settings.max_new_tokens < 1, f"--max-new-tokens must be at least 1 (got {settings.max_new_tokens})"),
        (group_size < 2, f"--group-size must be at least 2 (got {group_size})"),
        (settings.batch_size < 1, f"--batch-size must be at least 1 (got {settings.batch_size})"),
    ]
    for bad, message in problems:
        if bad:
            raise RankinvError(message)


def run_triage(request: TriageRequest, config: TriageConfig, progress: Phase | None = None) -> TriageReport:
    """Triage a checkpoint directory; writes the report next to it unless ``request.output == ""``."""
    validate(request.settings, request.group_size)
    if not Path(request.checkpoint).is_dir():
        raise RankinvError(f"{request.checkpoint}: checkpoint directory not found")
    prompt_set = load_prompt_set(request.prompts, request.limit)
    reward = _reward(request.reward, prompt_set, config, conversational=False)  # fail fast, before loading weights
    start = time.monotonic()
    backend = load_backend(request.backend, request.checkpoint, request.settings, request.base_model)
    load_s = time.monotonic() - start
    reward = _reward(request.reward, prompt_set, config, conversational=backend.uses_chat_template)
    report = triage_with_backend(backend, prompt_set, reward, request, config=config, progress=progress,
                                 load_s=load_s)
    report = replace(report, sft=read_sft_log(request.checkpoint))
    if request.output != "":
        _write(report, Path(request.output or Path(request.checkpoint) / REPORT_FILENAME))
    return report


def _write(report: TriageReport, path: Path) -> None:
    try:
        report.write(path)
    except OSError as exc:
        raise RankinvError(f"cannot write the triage report to {path}: {exc.strerror}; "
                           "pass --output PATH or --no-write") from None


def _reward(spec: str, prompt_set: PromptSet, config: TriageConfig, conversational: bool) -> Reward:
    limits = ExecLimits(timeout_s=config.exec_timeout_s, cpu_s=max(1, int(config.exec_timeout_s)),
                        memory_mb=config.exec_memory_mb, disk_mb=config.exec_disk_mb,
                        isolation=config.exec_isolation)
    return make_reward(spec, prompt_set.prompts, allow_code_exec=config.allow_code_exec,
                       pass_threshold=config.pass_threshold, conversational=conversational, limits=limits)


def triage_with_backend(backend: Backend, prompt_set: PromptSet, reward: Reward, request: TriageRequest, *,
                        config: TriageConfig, progress: Phase | None = None, load_s: float = 0.0) -> TriageReport:
    """The measuring part, shared by the CLI and the in-training hook (which passes a live model)."""
    settings, texts = request.settings, [p.prompt for p in prompt_set.prompts]
    clock = time.monotonic()
    rollouts = backend.sample(texts, settings, _phase(progress, "sampling rollouts", len(texts) * settings.samples))
    sample_s, clock = time.monotonic() - clock, time.monotonic()
    scores = _score(reward, prompt_set, rollouts, progress)
    score_s, clock = time.monotonic() - clock, time.monotonic()
    probes = backend.probe_entropy(texts, settings.temperature) if request.probe else None
    probe_s = time.monotonic() - clock
    results = [aggregate.prompt_result(p.id, r, s, None if probes is None else probes[i])
               for i, (p, r, s) in enumerate(zip(prompt_set.prompts, rollouts, scores, strict=True))]
    metrics = aggregate.metrics(results, request.group_size, seed=settings.seed)
    tokens = sum(r.tokens for r in results)
    timing = Timing(load_s, sample_s, score_s, probe_s, load_s + sample_s + score_s + probe_s, tokens,
                    tokens / sample_s if sample_s > 0 else 0.0)
    return TriageReport(
        checkpoint=str(Path(request.checkpoint).resolve()), base_model=request.base_model,
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), rankinv_version=__version__,
        sampling=_sampling(backend, request, reward, prompt_set), group_size=request.group_size,
        p_star=advantage.p_star(request.group_size), metrics=metrics, flag=stage1_flag(metrics, config),
        timing=timing, prompts=tuple(results),
    )


def _score(
    reward: Reward, prompt_set: PromptSet, rollouts: Sequence[Sequence[Rollout]], progress: Phase | None
) -> list[list[Any]]:
    flat = [Sample(p, r.text, r.token_ids) for p, rs in zip(prompt_set.prompts, rollouts, strict=True) for r in rs]
    advance = _phase(progress, f"scoring ({reward.name})", len(flat))
    scores = reward.score(flat)
    if advance is not None:
        advance(len(flat))
    it = iter(scores)
    return [[next(it) for _ in rs] for rs in rollouts]


def _phase(progress: Phase | None, description: str, total: int) -> Callable[[int], None] | None:
    return None if progress is None else progress(description, total)


def _sampling(backend: Backend, request: TriageRequest, reward: Reward, prompt_set: PromptSet) -> Sampling:
    s = request.settings
    return Sampling(
        backend=backend.name, samples=s.samples, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
        repetition_penalty=s.repetition_penalty, max_new_tokens=s.max_new_tokens, seed=s.seed,
        chat_template=backend.uses_chat_template, reward=reward.name, prompt_set=prompt_set.name,
        prompts=len(prompt_set),
    )


__all__ = ["TriageRequest", "choose_backend", "run_triage", "settings_from_config", "triage_with_backend"]
