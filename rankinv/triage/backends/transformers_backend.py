"""Sampling with transformers: batched, left-padded, GRPO settings, exact entropy without ``output_scores``.

:class:`EntropyRecorder` is a logits processor. Each step it computes the entropy of softmax(scores / T)
in fp32 (batch floats) and keeps that step's shifted logits only until the next step reveals the sampled
token (``input_ids[:, -1]``), whose log-prob it then records. Memory is one batch x vocab tensor, not the
steps x batch x vocab that ``output_scores=True`` holds.

Custom processors run *before* generate's temperature warper, so the recorder divides by T itself; the
generation config is built explicitly (top_k 0, top_p 1, no penalties or cut-offs) so no other warper
changes the distribution after it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LogitsProcessor

from rankinv.errors import RankinvError
from rankinv.triage.backends.base import Progress, Rollout, SamplingSettings

PROBE_CHUNK = 64


def shifted_entropy(scores: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Entropy (nats, fp32) of softmax(scores / T) over the last axis, plus (d, log Z) with log p = d - log Z.

    With d = z - max(z) <= 0, e = exp(d) and Z = sum(e): H = log Z - sum(e * d) / Z. Both terms are >= 0, so
    nothing cancels, and the sum is one fused dot product: about a softmax's cost, no log over the vocabulary.
    """
    z = scores.float() if temperature == 1.0 else scores.float() / temperature
    d = z - z.amax(-1, keepdim=True)
    e = d.exp()
    total = e.sum(-1)
    dot = torch.einsum("...v,...v->...", e, d)
    if torch.isnan(dot).any():  # -inf logits (masked tokens) give 0 * -inf
        dot = torch.nansum(e * d, -1)
    log_z = total.log()
    return log_z - dot / total, d, log_z


def entropy_and_logprobs(scores: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(entropy per row in nats, log-probs) of softmax(scores / T), computed in fp32."""
    entropy, d, log_z = shifted_entropy(scores, temperature)
    return entropy, d - log_z[..., None]


class EntropyRecorder(LogitsProcessor):
    """Records the exact per-step entropy and the sampled-token log-prob; returns scores unchanged."""

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature
        self.entropies: list[torch.Tensor] = []
        self.logprobs: list[torch.Tensor] = []
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self._take_sampled(input_ids[:, -1])
        entropy, d, log_z = shifted_entropy(scores, self.temperature)
        self._last = (d, log_z)
        self.entropies.append(entropy)
        return scores

    def _take_sampled(self, tokens: torch.Tensor) -> None:
        if self._last is not None:
            d, log_z = self._last
            self.logprobs.append(d.gather(1, tokens[:, None]).squeeze(1) - log_z)
            self._last = None

    def finish(self, last_tokens: torch.Tensor) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(entropies, logprobs), each steps x batch, once generation is over."""
        self._take_sampled(last_tokens)
        if not self.entropies:
            return np.zeros((0, len(last_tokens))), np.zeros((0, len(last_tokens)))
        return (torch.stack(self.entropies).double().cpu().numpy(), torch.stack(self.logprobs).double().cpu().numpy())


def load_model(checkpoint: str | Path, base_model: str | None = None) -> tuple[Any, Any]:
    """A full-weights checkpoint, or a LoRA adapter directory loaded over its base model with peft."""
    path = Path(checkpoint)
    if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
        raise RankinvError(f"{path}: not a Hugging Face checkpoint (no config.json or adapter_config.json)")
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    try:
        if (path / "adapter_config.json").exists():
            model, tok_source = _load_adapter(path, base_model, dtype)
        else:
            model, tok_source = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype), str(path)
        tokenizer = AutoTokenizer.from_pretrained(tok_source)
    except (OSError, ValueError) as exc:
        raise RankinvError(f"{path}: cannot load the checkpoint: {exc}") from None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval(), tokenizer


def _load_adapter(path: Path, base_model: str | None, dtype: torch.dtype) -> tuple[Any, str]:
    from peft import PeftModel

    base = base_model or json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base:
        raise RankinvError(f"{path}: LoRA adapter names no base model; pass --base-model")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=dtype), str(path))
    has_tokenizer = (path / "tokenizer_config.json").exists()
    return model, str(path) if has_tokenizer else base


def grpo_generation_config(tokenizer: Any, settings: SamplingSettings) -> GenerationConfig:
    """Every sampling knob set explicitly, so nothing falls back to the checkpoint's generation_config.json."""
    # transformers declares GenerationConfig.__init__(self, **kwargs) without annotations.
    return GenerationConfig(  # type: ignore[no-untyped-call]
        do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
        min_p=0.0, typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0, repetition_penalty=settings.repetition_penalty,
        no_repeat_ngram_size=0, num_beams=1, max_new_tokens=settings.max_new_tokens, renormalize_logits=False,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
    )


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: Any, tokenizer: Any, chat_template: bool | None = None) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if chat_template and not has_template:
            raise RankinvError("--chat-template given but the tokenizer has no chat template")
        self.uses_chat_template = has_template if chat_template is None else chat_template

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, chat_template: bool | None = None,
                        base_model: str | None = None) -> TransformersBackend:
        model, tokenizer = load_model(checkpoint, base_model)
        return cls(model, tokenizer, chat_template)

    def format(self, prompt: str) -> str:
        if not self.uses_chat_template:
            return prompt
        messages = [{"role": "user", "content": prompt}]
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def _encode(self, texts: Sequence[str]) -> Any:
        # As TRL's GRPOTrainer does: no extra special tokens (the chat template carries its own).
        enc = self.tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
        enc.pop("token_type_ids", None)  # some tokenizers add them; causal LMs' generate rejects them
        return enc.to(self.model.device)

    @torch.inference_mode()
    def sample(self, prompts: Sequence[str], settings: SamplingSettings, progress: Progress | None = None) -> list[
        list[Rollout]
    ]:
        texts = [self.format(p) for p in prompts]
        rows = [i for i in range(len(texts)) for _ in range(settings.samples)]
        out: list[list[Rollout]] = [[] for _ in texts]
        config = grpo_generation_config(self.tokenizer, settings)
        torch.manual_seed(settings.seed)
        for start in range(0, len(rows), settings.batch_size):
            chunk = rows[start : start + settings.batch_size]
            for i, rollout in zip(chunk, self._generate([texts[i] for i in chunk], config), strict=True):
                out[i].append(rollout)
            if progress is not None:
                progress(len(chunk))
        return out

    def _generate(self, texts: Sequence[str], config: GenerationConfig) -> list[Rollout]:
        enc = self._encode(texts)
        recorder = EntropyRecorder(config.temperature)
        sequences = self.model.generate(**enc, generation_config=config, logits_processor=[recorder])
        completions = sequences[:, enc["input_ids"].shape[1] :]
        entropies, logprobs = recorder.finish(sequences[:, -1])
        eos = _eos_ids(config)
        return [self._rollout(completions[r].tolist(), entropies[:, r], logprobs[:, r], eos) for r in range(len(texts))]

    def _rollout(self, ids: list[int], entropies: Any, logprobs: Any, eos: set[int]) -> Rollout:
        end = next((k + 1 for k, t in enumerate(ids) if t in eos), None)
        length = end if end is not None else len(ids)
        text = self.tokenizer.decode(ids[:length], skip_special_tokens=True)
        return Rollout(text, tuple(ids[:length]), end is None, tuple(logprobs[:length].tolist()),
                       tuple(entropies[:length].tolist()))

    @torch.inference_mode()
    def probe_entropy(self, prompts: Sequence[str], temperature: float = 1.0, batch_size: int = 16) -> list[
        npt.NDArray[np.float64]
    ]:
        """The paper's probe: teacher-forced next-token entropy at each prompt position predicting a prompt token."""
        texts = [self.format(p) for p in prompts]
        out: list[npt.NDArray[np.float64]] = []
        for start in range(0, len(texts), batch_size):
            out.extend(self._probe_batch(texts[start : start + batch_size], temperature))
        return out

    def _probe_batch(self, texts: Sequence[str], temperature: float) -> list[npt.NDArray[np.float64]]:
        enc = self._encode(texts)
        mask = enc["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self.model(input_ids=enc["input_ids"], attention_mask=mask, position_ids=positions).logits
        valid = (mask[:, :-1] * mask[:, 1:]).bool()
        predicting = logits[:, :-1]  # position i predicts prompt token i + 1
        chunks = [shifted_entropy(predicting[:, c : c + PROBE_CHUNK], temperature)[0]
                  for c in range(0, predicting.shape[1], PROBE_CHUNK)]
        entropy = torch.cat(chunks, dim=1) if chunks else predicting.new_zeros((len(texts), 0))
        return [entropy[r][valid[r]].double().cpu().numpy() for r in range(len(texts))]


def _eos_ids(config: GenerationConfig) -> set[int]:
    eos = config.eos_token_id
    if eos is None:
        return set()
    return {int(eos)} if isinstance(eos, int) else {int(e) for e in eos}
