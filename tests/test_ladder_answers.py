"""The ladder's answer likelihood (``examples/ladder/answers.py``) against brute force: every completion of up to
two tokens enumerated, each one's probability by the chain rule from its own forward passes, judged by the task's
own reward on the decoded text."""

from __future__ import annotations

import math

import pytest
import torch

from examples.ladder import hump, tinymodel
from examples.ladder.answers import answer_likelihood, boundary_ids

pytestmark = pytest.mark.slow

PROMPTS = ("a number bigger than seventeen is", "a number far from nine is")


@pytest.fixture(scope="module")
def model_and_tokenizer() -> tuple[object, object]:
    tok = tinymodel.train_tokenizer(hump.corpus(), vocab_size=600)  # every answer one token: two enumerate it
    model = tinymodel.tiny_model(tok, hidden=32, layers=1, seed=3)
    model.eval()
    return model, tok


def _next_probs(model: object, ids: list[int]) -> list[float]:
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1].double()  # type: ignore[operator]
    return torch.softmax(logits, dim=-1).tolist()


def _brute_force(model: object, tok: object, prompt: str) -> tuple[float, float]:
    """(probability of the valid answers spelt " w" then a word end, pass rate of two-token completions)."""
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    eos = tok.eos_token_id  # type: ignore[attr-defined]
    valid = hump.VALID[prompt]
    first = _next_probs(model, prompt_ids)
    canonical, passing = 0.0, 0.0
    for t1, p1 in enumerate(first):
        if t1 == eos:
            continue  # an empty completion passes nothing
        second = _next_probs(model, [*prompt_ids, t1])
        head = tok.decode([t1], skip_special_tokens=True)  # type: ignore[attr-defined]
        for t2, p2 in enumerate(second):
            text = tok.decode([t1] if t2 == eos else [t1, t2], skip_special_tokens=True)  # type: ignore[attr-defined]
            if not hump.first_word_valid(prompt, text):
                continue
            passing += p1 * p2
            word = head[1:]
            rest = text[len(head):]
            if head.startswith(" ") and word in valid and (t2 == eos or rest[:1].isspace()):
                canonical += p1 * p2
    return canonical, passing


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_likelihood_equals_the_enumerated_canonical_completions(model_and_tokenizer: tuple[object, object],
                                                                     prompt: str) -> None:
    model, tok = model_and_tokenizer
    single = [w for w in hump.VALID[prompt] if len(tok(" " + w, add_special_tokens=False)["input_ids"]) == 1]  # type: ignore[operator]
    assert len(single) == len(hump.VALID[prompt])
    got = answer_likelihood(model, tok, prompt, sorted(hump.VALID[prompt]))
    canonical, passing = _brute_force(model, tok, prompt)
    assert math.isclose(got.valid_prob, canonical, rel_tol=1e-6)
    assert got.valid_prob <= passing + 1e-12  # a lower bound on the exact pass rate
    assert 0 < got.best_prob <= got.valid_prob


def test_word_ends_are_eos_and_the_tokens_that_start_with_whitespace(
        model_and_tokenizer: tuple[object, object]) -> None:
    _, tok = model_and_tokenizer
    ends = set(boundary_ids(tok))
    assert tok.eos_token_id in ends  # type: ignore[attr-defined]
    for i in range(len(tok)):  # type: ignore[arg-type]
        text = tok.decode([i], skip_special_tokens=True)  # type: ignore[attr-defined]
        assert (i in ends) == (i == tok.eos_token_id or text[:1].isspace())  # type: ignore[attr-defined]
