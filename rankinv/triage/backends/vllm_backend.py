"""Sampling with vLLM (GPU), written against vLLM's documented offline API.

``LLM(model, seed, logprobs_mode="processed_logprobs", generation_config="vllm")`` ignores the
checkpoint's ``generation_config.json`` and returns log-probs after temperature;
``SamplingParams(n, temperature, top_p=1, max_tokens, logprobs=0, seed)`` asks for the sampled token's
log-prob only. vLLM exposes no full-vocabulary distribution per step, so this backend gives the
Monte-Carlo entropy (exact per-step and probe entropy are None).

No GPU exists where rankinv is developed: this path is tested with a stand-in object that mimics
vLLM's RequestOutput / CompletionOutput / Logprob shapes (see tests/test_triage_vllm.py), never with
vLLM itself.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rankinv.errors import RankinvError
from rankinv.triage.backends.base import Progress, Rollout, SamplingSettings


def _import_vllm() -> Any:
    try:
        return importlib.import_module("vllm")
    except ImportError:
        raise RankinvError("the vLLM backend needs vllm (pip install 'rankinv[vllm]'), or use --backend transformers") \
            from None


class VllmBackend:
    name = "vllm"

    def __init__(self, checkpoint: str | Path, *, seed: int = 0, chat_template: bool | None = None,
                 base_model: str | None = None, vllm: Any = None) -> None:
        self.vllm = vllm or _import_vllm()
        path = Path(checkpoint)
        adapter = path / "adapter_config.json"
        self.lora: Any = None
        model = str(path)
        extra: dict[str, Any] = {}
        if adapter.exists():
            meta = json.loads(adapter.read_text())
            model = base_model or meta.get("base_model_name_or_path") or ""
            extra = {"enable_lora": True, "max_lora_rank": int(meta.get("r", 16))}
            lora_request = importlib.import_module(f"{self.vllm.__name__}.lora.request").LoRARequest
            self.lora = lora_request("triage", 1, str(path))
        self.llm = self.vllm.LLM(model=model, seed=seed, logprobs_mode="processed_logprobs",
                                 generation_config="vllm", **extra)
        self.tokenizer = self.llm.get_tokenizer()
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.uses_chat_template = has_template if chat_template is None else chat_template

    def format(self, prompt: str) -> str:
        if not self.uses_chat_template:
            return prompt
        messages = [{"role": "user", "content": prompt}]
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def sampling_params(self, settings: SamplingSettings) -> Any:
        return self.vllm.SamplingParams(
            n=settings.samples, temperature=settings.temperature, top_p=settings.top_p,
            max_tokens=settings.max_new_tokens, logprobs=0, seed=settings.seed,
        )

    def sample(self, prompts: Sequence[str], settings: SamplingSettings, progress: Progress | None = None) -> list[
        list[Rollout]
    ]:
        texts = [self.format(p) for p in prompts]
        kwargs = {"lora_request": self.lora} if self.lora is not None else {}
        outputs = self.llm.generate(texts, self.sampling_params(settings), use_tqdm=False, **kwargs)
        if progress is not None:
            progress(len(texts) * settings.samples)
        return [[rollout_from_completion(c) for c in request.outputs] for request in outputs]

    def probe_entropy(self, prompts: Sequence[str], temperature: float = 1.0) -> list[npt.NDArray[np.float64]] | None:
        return None


def rollout_from_completion(completion: Any) -> Rollout:
    """A Rollout from a vLLM CompletionOutput: text, token_ids, logprobs (list of {token_id: Logprob})."""
    ids = [int(t) for t in completion.token_ids]
    if completion.logprobs is None or len(completion.logprobs) != len(ids):
        raise RankinvError("vLLM returned no per-token log-probs; the backend asks for logprobs=0, check the version")
    logprobs = tuple(float(step[token].logprob) for step, token in zip(completion.logprobs, ids, strict=True))
    return Rollout(str(completion.text), tuple(ids), completion.finish_reason == "length", logprobs, None)
