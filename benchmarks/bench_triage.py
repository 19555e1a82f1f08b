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


def worker(approach: str, quick: bool) -> None:
    """Measure one approach in this process; prints JSON."""
    import torch

    vocab, batch, new_tokens, repeats = (8000, 8, 16, 1) if quick else (32000, 32, 64, 3)
    model = _model(vocab)
    ids = torch.randint(1, vocab, (batch, 32), generator=torch.Generator().manual_seed(0))
    _generate(model, approach, ids, 4)  # warm-up
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = _generate(model, approach, ids, new_tokens)
        rates.append(tokens / (time.perf_counter() - start))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tokens_per_s": statistics.median(rates), "peak_mb": peak, "baseline_mb": baseline,
                      "batch": batch, "new_tokens": new_tokens, "vocab": vocab}))


def _measure(approach: str, quick: bool) -> dict[str, Any]:
    code = f"from benchmarks.bench_triage import worker; worker({approach!r}, {quick!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run(quick: bool) -> Result:
    rounds = 1 if quick else 2
    samples: dict[str, list[dict[str, Any]]] = {a: [] for a in APPROACHES}
    for _ in range(rounds):  # interleaved, so load on a shared machine hits every approach alike
        for approach in APPROACHES:
            samples[approach].append(_measure(approach, quick))
    best = {a: max(runs, key=lambda r: r["tokens_per_s"]) for a, runs in samples.items()}
    plain = best["plain"]["tokens_per_s"]
    rows = [[a, best[a]["tokens_per_s"], best[a]["peak_mb"], best[a]["peak_mb"] - best[a]["baseline_mb"],
             f"{(plain / best[a]['tokens_per_s'] - 1) * 100:+.1f}%"] for a in APPROACHES]
    first = best["plain"]
    notes = [f"batch {first['batch']} x {first['new_tokens']} new tokens, vocab {first['vocab']}, "
             f"hidden 256, 4 layers; best of {rounds} interleaved subprocess runs, each the median of its repeats",
             "cost = extra time per token over plain sampling; rankinv's target is under 15% for 'exact'"]
    return Result("triage sampling on CPU", ["approach", "tokens/s", "peak RSS MB", "RSS growth MB", "cost"], rows,
                  notes)


if __name__ == "__main__":
    worker(sys.argv[1], sys.argv[2] == "quick")
