"""Sampling backends; heavy libraries are imported only when one is chosen."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError
from rankinv.triage.backends.base import Backend, Rollout, SamplingSettings

__all__ = ["Backend", "Rollout", "SamplingSettings", "choose_backend", "load_backend"]
NAMES = ("auto", "transformers", "vllm")


def choose_backend(name: str) -> str:
    """``auto`` picks vLLM when it is installed and a GPU is visible, else transformers."""
    if name not in NAMES:
        raise RankinvError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
    if name != "auto":
        return name
    if importlib.util.find_spec("vllm") is None:
        return "transformers"
    import torch

    return "vllm" if torch.cuda.is_available() else "transformers"


def load_backend(name: str, checkpoint: str | Path, settings: SamplingSettings, base_model: str | None = None) -> Any:
    chosen = choose_backend(name)
    if chosen == "vllm":
        from rankinv.triage.backends.vllm_backend import VllmBackend

        return VllmBackend(checkpoint, seed=settings.seed, chat_template=settings.chat_template, base_model=base_model)
    try:
        from rankinv.triage.backends.transformers_backend import TransformersBackend
    except ImportError as exc:
        raise RankinvError(f"the transformers backend needs torch and transformers (pip install 'rankinv[triage]'): "
                           f"{exc}") from None
    return TransformersBackend.from_checkpoint(checkpoint, settings.chat_template, base_model)
