"""Triage sampling on CPU: plain sampling vs rankinv's exact entropy recorder vs ``generate(output_scores=True)``.

Each approach runs in its own subprocess (so peak RSS is its own) on the same randomly initialised Qwen2
(vocab 32k, hidden 256, 4 layers), same prompts, same seed, every row generating exactly max_new_tokens.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks import Result

APPROACHES = ("plain", "exact", "output_scores")


def _model(vocab: int) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=vocab, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512)
    return Qwen2ForCausalLM(config).eval()


def _generate(model: Any, approach: str, ids: Any, new_tokens: int) -> int:
    import torch
    from transformers import GenerationConfig

    from rankinv.triage.backends.transformers_backend import EntropyRecorder, entropy_and_logprobs

    config = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=new_tokens,  # type: ignore[no-untyped-call]
                              min_new_tokens=new_tokens, pad_token_id=0, eos_token_id=None)
    torch.manual_seed(0)
    with torch.inference_mode():
        if approach == "plain":
            out = model.generate(input_ids=ids, generation_config=config)
        elif approach == "exact":
            recorder = EntropyRecorder(1.0)
            out = model.generate(input_ids=ids, generation_config=config, logits_processor=[recorder])
            recorder.finish(out[:, -1])
        else:
            result = model.generate(input_ids=ids, generation_config=config, output_scores=True,
                                    return_dict_in_generate=True)
            out = result.sequences
            scores = torch.stack(result.scores)  # steps x batch x vocab, all kept in memory
            _, logprobs = entropy_and_logprobs(scores, 1.0)
            logprobs.gather(2, out[:, ids.shape[1]:].T[..., None])
    return int((out.shape[1] - ids.shape[1]) * out.shape[0])


def _sizes(quick: bool) -> tuple[int, int, int]:
    """(vocab, batch, new tokens)."""
    return (8000, 8, 16) if quick else (32000, 32, 64)


def _setup(quick: bool) -> tuple[Any, Any, int]:
    import torch

    vocab, batch, new_tokens = _sizes(quick)
    model = _model(vocab)
    ids = torch.randint(1, vocab, (batch, 32), generator=torch.Generator().manual_seed(0))
    for approach in APPROACHES:  # warm-up: first calls pay one-time setup
        _generate(model, approach, ids, 4)
    return model, ids, new_tokens


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_worker(approach: str, quick: bool) -> None:
    """Peak RSS of one approach, alone in this process; prints JSON."""
    model, ids, new_tokens = _setup(quick)
    baseline = _rss_mb()
    _generate(model, approach, ids, new_tokens)
    print(json.dumps({"peak_mb": _rss_mb(), "baseline_mb": baseline}))


def timing_worker(quick: bool, rounds: int) -> None:
    """All approaches in one process, interleaved round by round, so machine load hits each alike; prints JSON."""
    model, ids, new_tokens = _setup(quick)
    seconds: dict[str, list[float]] = {a: [] for a in APPROACHES}
    tokens = 0
    for _ in range(rounds):
        for approach in APPROACHES:
            start = time.perf_counter()
            tokens = _generate(model, approach, ids, new_tokens)
            seconds[approach].append(time.perf_counter() - start)
    print(json.dumps({"seconds": seconds, "tokens": tokens}))


def _child(code: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", f"from benchmarks.bench_triage import *; {code}"],
                          capture_output=True, text=True, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run(quick: bool) -> Result:
    rounds = 2 if quick else 8
    timing = _child(f"timing_worker({quick!r}, {rounds})")
    memory = {a: _child(f"memory_worker({a!r}, {quick!r})") for a in APPROACHES}
    secs = timing["seconds"]
    rows = []
    for a in APPROACHES:
        ratio = statistics.median(x / p for x, p in zip(secs[a], secs["plain"], strict=True))
        rows.append([a, timing["tokens"] / statistics.median(secs[a]), memory[a]["peak_mb"],
                     memory[a]["peak_mb"] - memory[a]["baseline_mb"], f"{(ratio - 1) * 100:+.1f}%"])
    vocab, batch, new_tokens = _sizes(quick)
    notes = [f"batch {batch} x {new_tokens} new tokens, vocab {vocab}, hidden 256, 4 layers, CPU fp32",
             f"timing: {rounds} interleaved rounds in one process; cost = median over rounds of time / plain time - 1",
             "memory: each approach alone in a fresh process (peak RSS, and its growth over the loaded model)"]
    return Result("triage sampling on CPU", ["approach", "tokens/s", "peak RSS MB", "RSS growth MB", "cost"], rows,
                  notes)


if __name__ == "__main__":
    timing_worker(sys.argv[1] == "quick", 2)
