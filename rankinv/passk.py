"""Unbiased pass@k (Chen et al. 2021), vectorised over prompts, in the numerically stable product form."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def pass_at_k_single(n: int, c: int, k: int) -> float:
    """P(at least one of k draws without replacement from n samples, c correct, is correct)."""
    if k < 1:
        raise ValueError(f"pass@k needs k >= 1, got k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per prompt, got n={n}: sample more or lower k")
    if not 0 <= c <= n:
        raise ValueError(f"passes must lie in [0, n={n}], got c={c}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: int) -> FloatArray:
    """Per-prompt unbiased pass@k; ``n`` and ``c`` broadcast against each other."""
    ns, cs = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64))
    out = np.array([pass_at_k_single(int(ni), int(ci), k) for ni, ci in zip(ns.ravel(), cs.ravel(), strict=True)])
    return out.reshape(ns.shape).astype(np.float64)


def mean_pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: int) -> float:
    """Mean unbiased pass@k over prompts."""
    values = pass_at_k(n, c, k)
    if values.size == 0:
        raise ValueError("pass@k over an empty prompt set is undefined")
    return float(values.mean())


def pass_at_k_curve(n: npt.ArrayLike, c: npt.ArrayLike, ks: list[int] | None = None) -> dict[int, float]:
    """Mean pass@k for each k (default: powers of two up to the smallest n)."""
    n_min = int(np.min(np.asarray(n)))
    if ks is None:
        ks = [1 << i for i in range(n_min.bit_length()) if 1 << i <= n_min]
        if n_min not in ks:
            ks.append(n_min)
    return {k: mean_pass_at_k(n, c, k) for k in ks}
