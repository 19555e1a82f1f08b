"""Cost of the science core on realistic prompt-set sizes (what a triage report computes)."""

from __future__ import annotations

import time

import numpy as np

from benchmarks import Result
from rankinv import advantage, passk, stats


def _time(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def run(quick: bool) -> Result:
    prompts = 200 if quick else 2000
    rng = np.random.default_rng(0)
    n = 64
    c = rng.binomial(n, rng.beta(0.5, 2.0, size=prompts))
    repeat = 2 if quick else 5
    rows = [
        ["p_star(g) for g = 2..64", 63, _time(lambda: [advantage.p_star(g) for g in range(2, 65)], repeat)],
        [f"pass@k curve, n={n}", prompts, _time(lambda: passk.pass_at_k_curve(n, c), repeat)],
        ["group_signal at g=8", prompts, _time(lambda: advantage.group_signal(c, n, 8), repeat)],
        ["bootstrap CI, 2000 resamples", prompts, _time(lambda: stats.bootstrap_ci(c / n), repeat)],
    ]
    return Result("science core", ["operation", "prompts", "ms"], rows, [f"mean of {repeat} runs"])
