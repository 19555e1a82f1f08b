"""CPU per judgement of the daemon's brain at a given length of history, measured in a child interpreter so that
another checkout's rankinv (``RANKINV_BENCH_BASELINE``) is measured the same way, alternating with this one.

Each child seeds R runs with H steps (entropy decaying with noise, a reward rising with noise: the prediction's
trajectory fit has points), then stores one record per run and judges every run, K times, as the daemon does
(one transaction per round; a savepoint per run and the run's record read back, or, in a build whose brain
judges a batch, the records read at once and the results written together); it prints process CPU seconds per
judgement. Stand-ins: none (a real Store on disk, the daemon's own Brain).
"""

from __future__ import annotations

import statistics
import subprocess

CHILD = r"""
import math, random, sys, tempfile, time
from pathlib import Path
from rankinv.config import Config
from rankinv.daemon.pipeline.brain import Brain
from rankinv.store import Store

runs, history, rounds = (int(a) for a in sys.argv[1:4])
rnd = random.Random(3)

def record(s):
    return [(s, "entropy", round(1.2 * math.exp(-s / 400) + rnd.gauss(0, 0.01), 6), None),
            (s, "reward_mean", round(0.3 + s / 3000 + rnd.gauss(0, 0.03), 4), None),
            (s, "frac_reward_zero_std", 0.4, None)]

with tempfile.TemporaryDirectory() as tmp:
    store, names = Store.open(Path(tmp) / "s.sqlite"), [f"r{i}" for i in range(runs)]
    for n in names:
        store.upsert_run(n, tmp, kind="grpo")
    brain = Brain(store, Config())
    for n in names:
        brain.monitor_of(n).feed([r for s in range(1, history + 1) for r in record(s)])
    cpu = 0.0
    for s in range(history + 1, history + rounds + 1):
        for n in names:
            brain.stored(n, record(s))
        t0 = time.process_time()
        with store.transaction():
            if hasattr(brain, "judge"):  # a build that writes a batch's judgements together, as its daemon does
                records = store.runs_named(names)
                if hasattr(brain, "prefit"):  # a build that fits a batch's windows together, as its daemon does
                    brain.prefit(names)
                brain.write([brain.judge(records[n]) for n in names])
            else:
                for n in names:
                    with store.savepoint():
                        brain.evaluate_run(store.run(n))
        cpu += time.process_time() - t0
    print(cpu / (runs * rounds))
"""

PLANS = ((30, 100, 30), (300, 10, 30), (1000, 5, 30))  # (history steps, runs, rounds)


def per_judgement(python: str, history: int, runs: int, rounds: int) -> float:
    """CPU seconds per judgement in a fresh ``python`` process."""
    out = subprocess.run([python, "-c", CHILD, str(runs), str(history), str(rounds)], capture_output=True,
                         text=True, check=True, timeout=600)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def measure(pythons: dict[str, str], repeats: int) -> dict[tuple[str, int], list[float]]:
    """Every plan under every interpreter, alternating who goes first, ``repeats`` times."""
    got: dict[tuple[str, int], list[float]] = {}
    for r in range(repeats):
        for history, runs, rounds in PLANS:
            order = list(pythons.items()) if r % 2 == 0 else list(pythons.items())[::-1]
            for who, python in order:
                got.setdefault((who, history), []).append(per_judgement(python, history, runs, rounds))
    return got


def rows(got: dict[tuple[str, int], list[float]]) -> list[list[object]]:
    out: list[list[object]] = []
    for history, _, _ in PLANS:
        this = statistics.median(got[("this", history)])
        base = got.get(("baseline", history))
        ratio = f"{this / statistics.median(base):.2f}x" if base else ""
        out.append([history, round(this * 1e3, 3), round(statistics.median(base) * 1e3, 3) if base else "", ratio])
    return out
