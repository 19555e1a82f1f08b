"""The vLLM backend against a STAND-IN for vLLM (no GPU here, so vLLM cannot run).

The stand-in mimics the shapes of vLLM's documented offline API — ``LLM(...)``, ``SamplingParams(...)``,
``RequestOutput.outputs`` of ``CompletionOutput(text, token_ids, logprobs=[{token_id: Logprob}],
finish_reason)`` — and samples from a known distribution, so what the backend computes can be checked.
It is not vLLM: the real library is exercised only on GPU machines.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rankinv.config import TriageConfig
from rankinv.triage.backends.base import SamplingSettings
from rankinv.triage.backends.vllm_backend import VllmBackend
from rankinv.triage.prompts import PromptSet, parse_jsonl
from rankinv.triage.rewards import MatchReward
from rankinv.triage.run import TriageRequest, triage_with_backend

WORDS = ["yes", "no", "maybe", "<eos>"]
PROBS = np.array([0.5, 0.2, 0.2, 0.1])
EOS = 3


@dataclass
class StandInLogprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class StandInCompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, StandInLogprob]] | None
    finish_reason: str | None = None


@dataclass
class StandInRequestOutput:
    request_id: str
    prompt: str
    outputs: list[StandInCompletionOutput] = field(default_factory=list)


class StandInSamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class StandInLLM:
    """Samples tokens i.i.d. from PROBS (temperature applied) until <eos> or max_tokens."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.params: list[dict[str, Any]] = []

    def get_tokenizer(self) -> Any:
        return types.SimpleNamespace(chat_template=None)

    def generate(self, prompts: list[str], params: StandInSamplingParams, use_tqdm: bool = True) -> list[Any]:
        p = params.kwargs
        self.params.append(p)
        rng = np.random.default_rng(p["seed"])
        logits = np.log(PROBS) / p["temperature"]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return [StandInRequestOutput(str(i), prompt, [self._one(k, rng, probs, p["max_tokens"]) for k in range(p["n"])])
                for i, prompt in enumerate(prompts)]

    @staticmethod
    def _one(index: int, rng: np.random.Generator, probs: np.ndarray, max_tokens: int) -> StandInCompletionOutput:
        ids: list[int] = []
        while len(ids) < max_tokens and (not ids or ids[-1] != EOS):
            ids.append(int(rng.choice(len(probs), p=probs)))
        logprobs = [{t: StandInLogprob(float(np.log(probs[t])), 1, WORDS[t])} for t in ids]
        text = " ".join(WORDS[t] for t in ids if t != EOS)
        reason = "stop" if ids[-1] == EOS else "length"
        return StandInCompletionOutput(index, text, ids, float(sum(d[t].logprob for d, t in zip(logprobs, ids,
                                                                                                 strict=True))),
                                       logprobs, reason)


STAND_IN_VLLM = types.SimpleNamespace(__name__="stand_in_vllm", LLM=StandInLLM, SamplingParams=StandInSamplingParams)


def _triage(tmp_path: Path, temperature: float = 1.0, max_tokens: int = 1) -> Any:
    prompts = PromptSet("stand-in", parse_jsonl("\n".join(
        f'{{"id": "q{i}", "prompt": "question {i}", "answer": "yes"}}' for i in range(40)), "stand-in"))
    backend = VllmBackend(tmp_path, seed=7, vllm=STAND_IN_VLLM)
    settings = SamplingSettings(samples=16, temperature=temperature, max_new_tokens=max_tokens, seed=7)
    request = TriageRequest(str(tmp_path), "stand-in", settings, group_size=8, backend="vllm", probe=True)
    return backend, triage_with_backend(backend, prompts, MatchReward(normalized=True), request,
                                        config=TriageConfig())


def test_stand_in_vllm_is_driven_with_the_documented_arguments(tmp_path: Path) -> None:
    backend, report = _triage(tmp_path, temperature=1.0)
    llm = backend.llm
    assert llm.kwargs == {"model": str(tmp_path), "seed": 7, "logprobs_mode": "processed_logprobs",
                          "generation_config": "vllm"}
    assert llm.params == [{"n": 16, "temperature": 1.0, "top_p": 1.0, "max_tokens": 1, "logprobs": 0, "seed": 7}]
    assert report.sampling.backend == "vllm"


def test_monte_carlo_entropy_and_pass_rate_from_stand_in_outputs(tmp_path: Path) -> None:
    _, report = _triage(tmp_path, temperature=1.0, max_tokens=1)
    true_entropy = float(-(PROBS * np.log(PROBS)).sum())
    mc = report.metrics.entropy_monte_carlo
    assert mc.lo <= true_entropy <= mc.hi
    assert report.metrics.pass_at_1.lo <= 0.5 <= report.metrics.pass_at_1.hi  # P("yes") = 0.5
    assert report.metrics.entropy_token_mean is None and report.metrics.entropy_probe is None
    assert report.flag.entropy_basis == "entropy_monte_carlo"


def test_truncation_comes_from_finish_reason(tmp_path: Path) -> None:
    _, report = _triage(tmp_path, max_tokens=2)
    expected = 1 - (0.1 + 0.9 * 0.1)  # no <eos> in the first two tokens
    assert report.metrics.truncation_rate.lo <= expected <= report.metrics.truncation_rate.hi


def test_missing_logprobs_are_a_clear_error(tmp_path: Path) -> None:
    from rankinv.errors import RankinvError
    from rankinv.triage.backends.vllm_backend import rollout_from_completion

    bad = StandInCompletionOutput(0, "yes", [0], None, None, "stop")
    with pytest.raises(RankinvError, match="log-probs"):
        rollout_from_completion(bad)
    good = StandInLLM._one(0, np.random.default_rng(0), PROBS, 3)
    rollout = rollout_from_completion(good)
    assert rollout.logprobs == tuple(math.log(PROBS[t]) for t in good.token_ids)
    assert rollout.entropies is None and rollout.token_ids == tuple(good.token_ids)
