from __future__ import annotations

import math

import numpy as np
import pytest

from rankinv import entropy as ent


def test_token_mean_is_ratio_of_sums_not_mean_of_means() -> None:
    seqs = [[1.0], [0.0, 0.0, 0.0]]
    assert ent.token_mean_entropy(seqs) == pytest.approx(0.25)
    np.testing.assert_allclose(ent.per_sequence_entropy(seqs), [1.0, 0.0])
    with pytest.raises(ValueError, match="no generated tokens"):
        ent.token_mean_entropy([[], []])


def test_monte_carlo_entropy_is_mean_surprisal() -> None:
    assert ent.monte_carlo_entropy([[math.log(0.5)], [math.log(0.25), math.log(0.5)]]) == pytest.approx(
        (math.log(2) * 2 + math.log(4)) / 3
    )


def test_entropy_of_logprobs_exact() -> None:
    uniform = np.log(np.full((2, 4), 0.25))
    np.testing.assert_allclose(ent.entropy_of_logprobs(uniform), [math.log(4)] * 2)
    one_hot = np.array([0.0, -np.inf, -np.inf])
    assert ent.entropy_of_logprobs(one_hot) == pytest.approx(0.0)


def test_monte_carlo_agrees_with_exact_on_average() -> None:
    rng = np.random.default_rng(0)
    probs = np.array([0.7, 0.2, 0.1])
    draws = rng.choice(3, size=20000, p=probs)
    mc = ent.monte_carlo_entropy([np.log(probs[draws])])
    assert mc == pytest.approx(float(ent.entropy_of_logprobs(np.log(probs))), rel=0.02)


def test_relative_drop_window_and_missing_data() -> None:
    steps = [1, 10, 50, 150, 200]
    values = [1.0, 0.8, float("nan"), 0.4, 0.1]
    assert ent.relative_drop(steps, values, 10, 150) == pytest.approx(0.5)
    # start value taken at the first finite point at/after s0; end at the last at/before the decision step
    assert ent.relative_drop([12, 100, 149], [1.0, 0.7, 0.6], 10, 150) == pytest.approx(0.4)
    assert math.isnan(ent.relative_drop([10], [1.0], 10, 150))
    assert math.isnan(ent.relative_drop([], [], 10, 150))
    assert math.isnan(ent.relative_drop([10, 20], [float("nan")] * 2, 10, 150))
