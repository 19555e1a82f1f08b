"""Every stage-2 variant tried for the collapse ladder's seeds 26-28 and hump seeds 23-25, scored on development
data only: ``python -m examples.ladder.stage2_variants [--only NAME ...]``.

Each variant replaces the sequential coverage test of the ``groups`` policy (``rankinv.verdict.coverage_test``)
for the duration of a replay and is otherwise the one evaluation path (``rankinv.evaluate.verdict_history``) on
each archived rung's RL log: the first KILL step a daemon following the run would have issued. α, the decision
step and every other rule stay as configured. Variants (VALIDATION.md, "Variants tried for collapse seeds 26-28"):

- ``main``: the test as it is on main (per-step all-fail counts bounded for every mixed-group pass rate).
- ``stated``: the product's code with ``[verdict] groups_per_step`` stated from the ladder's batch (4 groups a
  step), which takes ``W``'s whole counts: must equal ``W``.
- ``W`` (whole counts): with 0/1 rewards the logged mean reward is a whole number of passes over the step's
  G·g completions, and the all-pass groups a whole number of groups, so the fewest all-fail groups is
  Z - max{A integer <= Z: g·A + (G - Z) <= passes}; the same bound, rounded as counts must be. Falls back to
  the bound when the passes are not whole.
- ``S``/``WS``: the evidence mixed over where the loss began, half on step 1 and half spread evenly over starts
  1..decision step (a weighted sum of test supermartingales, each 1 before its start: still one under H0).
- ``WE``: whole counts, half on step 1 and half on the step after the raw entropy first fell past τ₂ from its
  baseline (a stopping time of earlier steps, so the product from it stays a supermartingale under H0).
- ``WP``: whole counts, the alternative's prior half uniform on [b0, 1] and half on the stage-1 mean fail rate
  1 - pass@1 (what a policy that collapsed onto one answer a prompt, keeping its pass rates, would fail), when
  it exceeds b0.

Development sets only: collapse seeds 0, 1, 20-25 and every archived hump seed read (0, 1, 5-19). Prints the
counts by the noise-aware oracle per variant and per ladder.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from examples.ladder.evidence import RESULTS
from examples.ladder.noise import outcome

DEV = {"collapse": (0, 1, 20, 21, 22, 23, 24, 25), "hump": (0, 1, *range(5, 20))}
PRIOR_POINTS = 64


def whole_counts(reward: np.ndarray, zero_std: np.ndarray, per_step: int, group_size: int,
                 ceiling: float) -> np.ndarray | None:  # fmt: skip
    """Fewest all-fail groups per step when the passes are whole counts (None when they are not)."""
    passes = reward / ceiling * per_step * group_size
    whole = np.round(passes)
    if not np.all(np.abs(passes - whole) <= 1e-3):
        return None
    z = np.round(np.clip(zero_std, 0.0, 1.0) * per_step)
    a_hi = np.minimum(z, np.floor((whole - (per_step - z)) / group_size))
    return z - np.maximum(0.0, a_hi)


def counts_of(points: Sequence[tuple[int, float, float]], g: int, ceiling: float,
              whole: bool) -> tuple[np.ndarray, int]:  # fmt: skip
    from rankinv.coverage import all_fail_counts, groups_per_step

    reward = np.array([r for _, r, _ in points], dtype=np.float64)
    zero = np.array([z for *_, z in points], dtype=np.float64)
    keep = np.isfinite(reward) & np.isfinite(zero)
    reward, zero = reward[keep], zero[keep]
    per_step = groups_per_step(zero.tolist())
    exact = whole_counts(reward, zero, per_step, g, ceiling) if whole else None
    return (all_fail_counts(reward, zero, per_step, g, ceiling) if exact is None else exact), per_step


def log_ratio(counts: np.ndarray, per_step: int, b0: float, start: int, *, prior: np.ndarray,
              weights: np.ndarray) -> np.ndarray:  # fmt: skip
    """log Λ at every step for the product started at index ``start`` (0 before it)."""
    up, down = np.log(prior / b0), np.log((1 - prior) / (1 - b0))
    out = np.zeros(counts.size)
    c = counts[start:]
    if not c.size:
        return out
    f = np.cumsum(c)
    seen = per_step * np.arange(1, c.size + 1, dtype=np.float64)
    x = f[:, None] * up + (seen - f)[:, None] * down + np.log(weights)[None, :]
    top = x.max(axis=1)
    out[start:] = top + np.log(np.exp(x - top[:, None]).sum(axis=1))
    return out


def uniform_prior(b0: float) -> tuple[np.ndarray, np.ndarray]:
    p = b0 + (1 - b0) * (np.arange(PRIOR_POINTS) + 0.5) / PRIOR_POINTS
    return p, np.full(PRIOR_POINTS, 1.0 / PRIOR_POINTS)


@dataclasses.dataclass(frozen=True)
class Variant:
    whole: bool = False
    starts: str = "one"  # one | spread | entropy
    informed: bool = False


VARIANTS: dict[str, Variant | None] = {
    "main": None,
    "stated": None,
    "W": Variant(whole=True),
    "S": Variant(starts="spread"),
    "WS": Variant(whole=True, starts="spread"),
    "E": Variant(starts="entropy"),
    "WE": Variant(whole=True, starts="entropy"),
    "WP": Variant(whole=True, informed=True),
}


def variant_test(v: Variant, context: dict[str, Any]) -> Callable[..., Any]:
    """A replacement for ``coverage_test`` reading the run's entropy and stage-1 pass@1 from ``context``."""
    from rankinv.coverage import CoverageTest

    def test(points: Sequence[tuple[int, float, float]], start: float, group_size: int, ceiling: float,
             alpha: float) -> CoverageTest | None:  # fmt: skip
        if not 0.0 < start < 1.0 or not points or not (ceiling > 0 and group_size >= 2):
            return None
        counts, per_step = counts_of(points, group_size, ceiling, v.whole)
        if not counts.size:
            return None
        steps = [s for s, *_ in points]
        prior, w = uniform_prior(start)
        fail1 = 1.0 - context["pass1"]
        if v.informed and fail1 > start:
            prior, w = np.append(prior, fail1), np.append(w / 2, 0.5)
        if v.starts == "one":
            mix = log_ratio(counts, per_step, start, 0, prior=prior, weights=w)
        else:
            if v.starts == "spread":
                d = sum(s <= context["decision"] for s in steps)
                starts = [(0, 0.5 + 0.5 / max(d, 1))] + [(k, 0.5 / d) for k in range(1, d)]
            else:
                starts = [(0, 0.5)]
                k = context["entropy_start"](steps)
                if k is not None:
                    starts.append((k, 0.5))
            mix = np.logaddexp.reduce([log_ratio(counts, per_step, start, k, prior=prior, weights=w) + math.log(wt)
                                       for k, wt in starts], axis=0)  # fmt: skip
        crossed = np.flatnonzero(mix >= math.log(1.0 / alpha))
        first = int(steps[crossed[0]]) if crossed.size else None
        fails = float(counts.sum())
        return CoverageTest(math.exp(min(float(mix[-1]), 700.0)), math.exp(min(float(mix.max()), 700.0)), first,
                            fails, per_step * counts.size, per_step)

    return test


def entropy_start(entropy_steps: Sequence[int], entropy: Sequence[float], baseline_step: int,
                  tau: float) -> Callable[[Sequence[int]], int | None]:  # fmt: skip
    """Index (into the test's steps) of the first step after the raw entropy fell past τ₂ from its value at the
    baseline step."""
    base = next((e for s, e in zip(entropy_steps, entropy, strict=True) if s >= baseline_step), None)

    def at(steps: Sequence[int]) -> int | None:
        if base is None or base <= 0:
            return None
        seen = set(steps)
        for s, e in zip(entropy_steps, entropy, strict=True):
            if s >= baseline_step and s in seen and 1.0 - e / base > tau:
                later = [i for i, t in enumerate(steps) if t > s]
                return later[0] if later else None
        return None

    return at


@contextlib.contextmanager
def patched(test: Callable[..., Any] | None) -> Iterator[None]:
    from rankinv import verdict

    saved = verdict.coverage_test
    if test is not None:
        verdict.coverage_test = test
    try:
        yield
    finally:
        verdict.coverage_test = saved


def replay_groups(run_dir: Path, config_path: Path, names: Sequence[str], pass1: float,
                  groups: int) -> dict[str, int | None]:  # fmt: skip
    """First KILL step under the groups policy for each variant."""
    from rankinv.assess import load_features, primary_series, start_report
    from rankinv.config import load_config
    from rankinv.evaluate import verdict_history
    from rankinv.ingest.sources import read_manifest
    from rankinv.verdict import Decision

    cfg = load_config(config_path)
    cfg = dataclasses.replace(cfg, verdict=dataclasses.replace(cfg.verdict, stage2_policy="groups"))
    triage = load_features(start_report(run_dir))
    series = primary_series(run_dir, run_dir.name, cfg)
    manifest = read_manifest(run_dir)
    context = {"pass1": pass1, "decision": cfg.monitor.decision_step,
               "entropy_start": entropy_start(series.entropy.steps, series.entropy.values, cfg.monitor.baseline_step,
                                              cfg.monitor.tau_2)}  # fmt: skip
    out: dict[str, int | None] = {}
    for name in names:
        v = VARIANTS[name]
        used = cfg if name != "stated" else dataclasses.replace(
            cfg, verdict=dataclasses.replace(cfg.verdict, groups_per_step=groups))
        with patched(None if v is None else variant_test(v, context)):
            history = verdict_history(series, triage, used, name=run_dir.name, manifest=manifest)
        out[name] = next((s for s, verdict in history if verdict.decision is Decision.KILL), None)
    return out


def rows(task: str, seeds: Sequence[int], names: Sequence[str], results: Path = RESULTS) -> list[dict[str, Any]]:
    from examples.ladder.collect import unpack

    out = []
    for seed in seeds:
        stored = json.loads((results / f"{task}-seed{seed}.json").read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory(prefix="rankinv-s2v-") as tmp:
            lad = unpack(results / "runs" / f"{task}-seed{seed}.tar.gz", Path(tmp))
            for rung, row in zip(stored["ladder"]["rows"], stored["stage2"], strict=True):
                run_dir = lad / "rl" / Path(rung["run_dir"]).name
                settings = stored["ladder"]["settings"]
                kills = replay_groups(run_dir, lad / "rl" / "rankinv.toml", names, float(rung["pass1"]),
                                      int(settings["rl_batch_size"]) // int(settings["group_size"]))
                out.append({"task": task, "seed": seed, "run": row["run"], "steps": row["steps"],
                            "decision": row["decision_step"],
                            "outcome": outcome(row["before"], row["after"], row["noise_sd"]),
                            "sd": (row["after"] - row["before"]) / row["noise_sd"], "kills": kills})  # fmt: skip
    return out


def score(group: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    lost = [r for r in group if r["outcome"] == "lost"]
    killed = [r for r in lost if r["kills"][name] is not None]
    saved = [(r["steps"] - r["kills"][name]) / r["steps"] for r in killed]
    return {"lost": len(lost), "killed": len(killed),
            "by_decision": sum(r["kills"][name] <= r["decision"] for r in killed),
            "wrong": sum(r["outcome"] == "gained" and r["kills"][name] is not None for r in group),
            "flat": [r["run"] for r in group if r["outcome"] == "flat" and r["kills"][name] is not None],
            "saved": sum(saved) / len(saved) if saved else math.nan}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.ladder.stage2_variants", description=__doc__)
    p.add_argument("--only", nargs="*", default=list(VARIANTS))
    p.add_argument("--task", nargs="*", default=list(DEV))
    p.add_argument("--json", help="keep the replayed first KILL steps here")
    args = p.parse_args(argv)
    table = [r for task in args.task for r in rows(task, DEV[task], args.only)]
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    for task in args.task:
        group = [r for r in table if r["task"] == task]
        for name in args.only:
            s = score(group, name)
            print(f"{task} {name}: losses {s['killed']}/{s['lost']} KILLed, {s['by_decision']} by the decision step, "
                  f"saved {s['saved']:.0%}, KILLs of gained runs {s['wrong']}, of flat runs {len(s['flat'])} "
                  f"{s['flat']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
