"""Every GRPO-signal identity against exact arithmetic and brute-force enumeration."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rankinv import advantage as adv

probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
group_sizes = st.integers(min_value=2, max_value=10)


def _enumerate_groups(p: Fraction, g: int) -> tuple[Fraction, Fraction, Fraction]:
    """Exact E[within-group variance], P(degenerate), E[scaled variance] over all 2^g reward patterns."""
    variance = Fraction(0)
    degenerate = Fraction(0)
    scaled = Fraction(0)
    for pattern in itertools.product((0, 1), repeat=g):
        c = sum(pattern)
        weight = p**c * (1 - p) ** (g - c)
        mean = Fraction(c, g)
        var = sum((Fraction(r) - mean) ** 2 for r in pattern) / (g - 1)  # unbiased sample variance
        population_var = sum((Fraction(r) - mean) ** 2 for r in pattern) / g
        variance += weight * population_var
        if c in (0, g):
            degenerate += weight
        else:
            # TRL: (r - mean) / std with the unbiased std; the mean square of scaled advantages is (g-1)/g.
            scaled += weight * (population_var / var)
    return variance, degenerate, scaled


@pytest.mark.parametrize("g", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("p", [Fraction(0), Fraction(1, 10), Fraction(1, 3), Fraction(1, 2), Fraction(1)])
def test_identities_match_brute_force_enumeration(p: Fraction, g: int) -> None:
    variance, degenerate, scaled = _enumerate_groups(p, g)
    assert adv.expected_variance(float(p), g) == pytest.approx(float(variance), abs=1e-12)
    assert adv.degenerate_probability(float(p), g) == pytest.approx(float(degenerate), abs=1e-12)
    assert adv.expected_scaled_variance(float(p), g) == pytest.approx(float(scaled), abs=1e-12)


@pytest.mark.parametrize(("g", "expected"), [(4, 0.159), (8, 0.083), (16, 0.042), (32, 0.021)])
def test_p_star_matches_paper(g: int, expected: float) -> None:
    assert round(adv.p_star(g), 3) == expected


@given(group_sizes)
def test_p_star_is_the_exact_root(g: int) -> None:
    p = adv.p_star(g)
    assert adv.degenerate_probability(p, g) == pytest.approx(0.5, abs=1e-12)
    if g >= 3:  # at g=2 the root is exactly 1/2, far from the approximation
        assert p == pytest.approx(1 - 2 ** (-1 / g), rel=0.05)  # close, not equal


def test_p_star_threshold_is_configurable_and_validated() -> None:
    assert adv.p_star(8, 0.9) < adv.p_star(8, 0.5) < adv.p_star(8, 0.1)
    with pytest.raises(ValueError, match="threshold"):
        adv.p_star(8, 0.001)
    with pytest.raises(ValueError, match="group size"):
        adv.p_star(1)


@given(probabilities, group_sizes)
def test_degenerate_probability_bounds_and_symmetry(p: float, g: int) -> None:
    d = adv.degenerate_probability(p, g)
    assert 2 ** (1 - g) - 1e-12 <= d <= 1.0 + 1e-12
    assert d == pytest.approx(adv.degenerate_probability(1 - p, g), abs=1e-12)


@given(probabilities, group_sizes)
def test_headroom_is_one_exactly_at_p_star_and_monotone(p: float, g: int) -> None:
    assert adv.headroom(adv.p_star(g), g) == pytest.approx(1.0)
    assert (adv.headroom(p, g) >= 1.0) == (p >= adv.p_star(g) - 1e-15)


@pytest.mark.parametrize(("n", "g"), [(n, g) for n in (2, 3, 5, 8) for g in (2, 3, 4) if n >= g])
def test_unbiased_estimators_are_unbiased(n: int, g: int) -> None:
    """E over c ~ Binomial(n, p) of each estimator equals the quantity, exactly."""
    for p in (Fraction(1, 7), Fraction(1, 2), Fraction(4, 5)):
        pmf = [math.comb(n, c) * p**c * (1 - p) ** (n - c) for c in range(n + 1)]
        e_pq = sum(w * Fraction(c * (n - c), n * (n - 1)) for c, w in enumerate(pmf))
        e_deg = sum(w * Fraction(math.comb(c, g) + math.comb(n - c, g), math.comb(n, g)) for c, w in enumerate(pmf))
        assert e_pq == p * (1 - p)
        assert e_deg == p**g + (1 - p) ** g
        for c in range(n + 1):
            assert adv.unbiased_p_one_minus_p(c, n) == pytest.approx(float(Fraction(c * (n - c), n * (n - 1))))
            assert adv.unbiased_degenerate_probability(c, n, g) == pytest.approx(
                float(Fraction(math.comb(c, g) + math.comb(n - c, g), math.comb(n, g)))
            )


def test_estimators_reject_bad_counts() -> None:
    with pytest.raises(ValueError, match="at least 8 samples"):
        adv.unbiased_degenerate_probability(1, 4, 8)
    with pytest.raises(ValueError, match="passes must lie"):
        adv.unbiased_p_one_minus_p(5, 4)
    with pytest.raises(ValueError, match="pass rate"):
        adv.expected_variance(1.5, 8)


def test_group_signal_aggregates() -> None:
    passes = [0, 0, 1, 4, 8]
    sig = adv.group_signal(passes, 8, g=8)
    assert sig.prompts == 5
    assert sig.never_solved_fraction == pytest.approx(0.4)
    assert sig.learnable_mass == pytest.approx(sum(c * (8 - c) / 56 for c in passes))
    assert sig.fraction_below_p_star == pytest.approx(0.4)  # 0/8 twice; 1/8 = 0.125 > p*(8)
    assert sig.degenerate_fraction == pytest.approx((1 + 1 + 0 + 0 + 1) / 5)
    assert sig.mean_expected_variance == pytest.approx(sum(c * (8 - c) / 56 * 7 / 8 for c in passes) / 5)
    assert sig.headroom == pytest.approx((13 / 40) / adv.p_star(8))
    with pytest.raises(ValueError, match="no prompts"):
        adv.group_signal([], 8, g=8)
