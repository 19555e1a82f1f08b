from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rankinv.passk import mean_pass_at_k, pass_at_k, pass_at_k_curve, pass_at_k_single


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


@st.composite
def nck(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(1, 200))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@given(nck())
def test_matches_exact_binomial_form(args: tuple[int, int, int]) -> None:
    n, c, k = args
    assert pass_at_k_single(n, c, k) == pytest.approx(float(exact_pass_at_k(n, c, k)), abs=1e-12)


def test_edges_and_errors() -> None:
    assert pass_at_k_single(10, 0, 5) == 0.0
    assert pass_at_k_single(10, 10, 1) == 1.0
    assert pass_at_k_single(10, 3, 1) == pytest.approx(0.3)
    with pytest.raises(ValueError, match=r"pass@11 needs at least 11 samples"):
        pass_at_k_single(10, 3, 11)
    with pytest.raises(ValueError, match="k >= 1"):
        pass_at_k_single(10, 3, 0)


def test_vectorised_over_prompts_and_large_n_is_stable() -> None:
    values = pass_at_k([20, 20, 20], [0, 1, 20], 10)
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0])
    # comb(1000, 500) overflows floats; the product form must not.
    assert 0.0 < pass_at_k_single(1000, 1, 500) == pytest.approx(0.5)
    assert mean_pass_at_k(20, [0, 1, 20], 10) == pytest.approx(0.5)


def test_curve_is_monotone_in_k() -> None:
    curve = pass_at_k_curve([16, 16], [1, 5])
    assert list(curve) == [1, 2, 4, 8, 16]
    values = list(curve.values())
    assert values == sorted(values)
