"""Each prompt's teacher-forced likelihood of its valid answers under a checkpoint at T=1.

Triage estimates a prompt's pass rate from 16 samples, so a prompt never solved in them reads 0 whether its
true rate is 1e-6 or 0.05: how near a never-solved prompt is to being solved is what decides whether GRPO's
groups on it can ever differ. For every valid answer w of a prompt this reads, in one forward pass, the
probability that a completion spells `` w`` in the tokenizer's own tokens of it (as SFT showed answers: a space,
then the word) and then ends the word (the next token is EOS or starts with whitespace). Summed over the valid
answers it is the probability of passing by the canonical spelling: a lower bound on the exact pass rate (other
spellings of the same word, no leading space or another split into tokens, are not counted), and it is what a
trained checkpoint samples nearly always.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AnswerLikelihood:
    """One prompt's summed probability of its valid answers, and its most likely valid answer's probability."""

    prompt: str
    valid_prob: float
    best_prob: float


def boundary_ids(tokenizer: Any) -> list[int]:
    """Token ids that end a first word when they follow it: EOS and every token whose text starts with
    whitespace."""
    out = [int(tokenizer.eos_token_id)]
    special = set(tokenizer.all_special_ids)
    for i in range(len(tokenizer)):
        if i not in special and tokenizer.decode([i])[:1].isspace():
            out.append(i)
    return out


def answer_likelihood(model: Any, tokenizer: Any, prompt: str, valid: Sequence[str],
                      ends: Sequence[int] | None = None) -> AnswerLikelihood:
    """The probability of each `` w`` (w in ``valid``) followed by a word boundary, after ``prompt``."""
    import torch

    ends = list(ends) if ends is not None else boundary_ids(tokenizer)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    words = sorted(valid)
    spelled = [tokenizer(" " + w, add_special_tokens=False)["input_ids"] for w in words]
    width = max(map(len, spelled))
    pad = int(tokenizer.pad_token_id)
    ids = torch.tensor([prompt_ids + s + [pad] * (width - len(s)) for s in spelled])
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=ids).logits.double(), dim=-1)
    probs = []
    for row, s in enumerate(spelled):
        at = len(prompt_ids) - 1  # the logits at position t predict token t + 1
        total = sum(float(logp[row, at + j, t]) for j, t in enumerate(s))
        boundary = float(torch.logsumexp(logp[row, at + len(s), ends], dim=0))
        probs.append(float(torch.exp(torch.tensor(total + boundary))))
    return AnswerLikelihood(prompt, sum(probs), max(probs))


def answer_likelihoods(checkpoint: str, prompts: Sequence[str], valid: dict[str, frozenset[str]]) -> list[
    AnswerLikelihood
]:
    """:func:`answer_likelihood` for every prompt, the checkpoint loaded once."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    ends = boundary_ids(tokenizer)
    return [answer_likelihood(model, tokenizer, p, sorted(valid[p]), ends) for p in prompts]
