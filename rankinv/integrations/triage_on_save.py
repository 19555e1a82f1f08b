"""In-training triage: the training job writes ``rankinv-triage.json`` into each checkpoint it saves.

Pass an instance as ``RankinvCallback(triage_on_save=TriageOnSave(prompts="my_probe.jsonl"))``. The
callback calls it on rank zero with each saved checkpoint directory; it loads that checkpoint in-process
with the transformers backend, runs the probe entropy and a small rollout triage, and writes the
report next to the weights, where the daemon picks it up. The training job's RNG state is saved and
restored around the sampling, so triage never changes the training run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from rankinv.config import TriageConfig
from rankinv.errors import RankinvError
from rankinv.triage.backends.base import SamplingSettings
from rankinv.triage.report import TriageReport

log = logging.getLogger("rankinv.triage_on_save")


@dataclass(frozen=True)
class TriageOnSave:
    """A small triage per save: ``limit`` prompts x ``samples`` rollouts of at most ``max_new_tokens``."""

    prompts: str
    samples: int = 8
    group_size: int = 8
    max_new_tokens: int = 128
    limit: int | None = 32
    reward: str = "auto"
    temperature: float = 1.0
    seed: int = 0
    config: TriageConfig = field(default_factory=TriageConfig)

    def __call__(self, checkpoint_dir: Path) -> TriageReport | None:
        """Triage one saved checkpoint; a user error (bad prompt set, code exec not allowed) is logged, not raised."""
        import torch

        from rankinv.triage.run import TriageRequest, run_triage

        settings = SamplingSettings(samples=self.samples, temperature=self.temperature,
                                    max_new_tokens=self.max_new_tokens, seed=self.seed)
        request = TriageRequest(str(checkpoint_dir), self.prompts, settings, group_size=self.group_size,
                                reward=self.reward, backend="transformers", limit=self.limit)
        devices = list(range(torch.cuda.device_count()))
        with torch.random.fork_rng(devices=devices):
            try:
                return run_triage(request, self.config)
            except RankinvError as exc:
                log.warning("rankinv: triage of %s skipped: %s", checkpoint_dir, exc)
                return None
