"""The trajectory's three intercept medians, taken in one call, equal ``np.median`` of each residual row to the
bit (oracle: ``np.median`` itself, row by row), ties, zeros of either sign, infinities and NaN included."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rankinv.predict import _medians

VALUES = st.one_of(st.floats(-1e6, 1e6), st.just(0.0), st.just(-0.0), st.just(1.0), st.just(math.inf),
                   st.just(math.nan))  # fmt: skip


def _bits(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


@settings(max_examples=300, deadline=None)
@given(
    xy=st.lists(st.tuples(VALUES, VALUES), min_size=1, max_size=60),
    slopes=st.lists(st.one_of(st.floats(-50, 50), st.just(0.0), st.just(-0.0)), min_size=0, max_size=3),
)
def test_medians_equal_np_median_row_by_row(xy: list[tuple[float, float]], slopes: list[float]) -> None:
    x = np.array([a for a, _ in xy], dtype=np.float64)
    y = np.array([b for _, b in xy], dtype=np.float64)
    with np.errstate(all="ignore"):
        want = [float(np.median(y - s * x)) for s in slopes]
        got = _medians(y, x, slopes)
    assert len(got) == len(want) and all(_bits(a, b) for a, b in zip(got, want, strict=True)), (got, want)
