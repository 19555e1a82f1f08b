"""One-shot ``rankinv status`` on a root of many tiny GRPO runs, against the 5 s target at 10,000 runs.

Each run is a directory with the callback's manifest and five JSONL records. ``cold``: the first status on a fresh
store (it scans: discovers, ingests and judges every run); ``warm``: the next one (no daemon runs, so it scans
again, finding nothing new). Both are fresh processes with stdout to a pipe, timed wall-clock from start to exit.
The table alone is also printed in-process both ways (Rich laying out every cell, and the fast path) for the ratio.
With ``RANKINV_BENCH_BASELINE`` set to another interpreter (e.g. main's venv), its ``rankinv status`` is timed on the
same root in the same run, alternating with this one.
"""

from __future__ import annotations

import io
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import Result

TARGET_SECONDS = 5.0


def _make_root(root: Path, runs: int) -> None:
    for i in range(runs):
        d = root / f"grpo-{i:05d}"
        d.mkdir(parents=True)
        (d / "rankinv-run.json").write_text(json.dumps({"kind": "GRPO"}))
        lines = []
        for step in range(1, 6):
            logs = {"entropy": round(1.2 * math.exp(-step / 400), 6), "reward": 0.3, "frac_reward_zero_std": 0.4}
            lines.append(json.dumps({"step": step, "time": 1.7e9 + step, "logs": logs}) + "\n")
        (d / "rankinv.jsonl").write_text("".join(lines))


def _status(root: Path, state: Path, python: str = sys.executable) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system of the process), the 1-minute load average as it started, and the
    printed table of one status."""
    argv = [python, "-m", "rankinv", "status", str(root), "--state-dir", str(state)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL, env=env,
                         cwd=root.parent).stdout  # not a checkout: `-m rankinv` would import the rankinv/ found there
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, load, out


def _table_seconds(state: Path, root: Path, fast: bool) -> float:
    """Print the stored table once to a pipe-like buffer, by the fast path or by Rich alone."""
    from contextlib import redirect_stdout

    from rankinv.daemon import cli_status

    from rankinv.store import ReadStore, store_path_for

    with ReadStore.open(store_path_for(root, state)) as store:
        snap = store.snapshot(events=10)
    saved = cli_status.print_plain
    if not fast:
        cli_status.print_plain = lambda *a: False  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            cli_status.print_table(snap, root, running=False, scanned=True)
        return time.perf_counter() - start
    finally:
        cli_status.print_plain = saved


def _ours(root: Path, state: Path, times: dict[str, list[tuple[float, float, float]]]) -> set[str]:
    *cold, out = _status(root, state)
    *warm, again = _status(root, state)
    times["cold"].append((cold[0], cold[1], cold[2]))
    times["warm"].append((warm[0], warm[1], warm[2]))
    return {out, again}


def _theirs(root: Path, state: Path, baseline: str, times: dict[str, list[tuple[float, float, float]]]) -> None:
    for key in ("base_cold", "base_warm"):
        wall, cpu, load, _ = _status(root, state, baseline)
        times[key].append((wall, cpu, load))


def _measure(runs: int, repeat: int, baseline: str) -> list[list[Any]]:
    times: dict[str, list[tuple[float, float, float]]] = {k: [] for k in ("cold", "warm", "base_cold", "base_warm")}
    rich_s, fast_s = [], []
    outputs: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="rankinv-bench-status-") as tmp:
        root = Path(tmp) / "root"
        _make_root(root, runs)
        for r in range(repeat):
            state, base = Path(tmp) / f"state-{r}", Path(tmp) / f"base-{r}"
            if baseline and r % 2:  # alternate which goes first: neither always gets the quieter moment
                _theirs(root, base, baseline, times)
            outputs |= _ours(root, state, times)
            rich_s.append(_table_seconds(state, root, fast=False))
            fast_s.append(_table_seconds(state, root, fast=True))
            if baseline and not r % 2:
                _theirs(root, base, baseline, times)
    assert len(outputs) == 1, "every status printed the same table"

    def row(what: str, got: list[tuple[float, float, float]] | list[float], target: float | None) -> list[Any]:
        walls = [g[0] if isinstance(g, tuple) else g for g in got]
        cpus = [g[1] for g in got if isinstance(g, tuple)]
        loads = [g[2] for g in got if isinstance(g, tuple)]
        med = statistics.median(walls)
        verdict = "-" if target is None else ("met" if max(walls) <= target else f"missed by {med / target:.2f}x")
        cpu = f"{statistics.median(cpus):.2f}" if cpus else "-"
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"
        return [what, runs, round(med, 2), round(max(walls), 2), cpu, load, "-" if target is None else f"{target:g} s",
                verdict]  # fmt: skip

    target = TARGET_SECONDS if runs == 10_000 else None
    rows = [
        row("status, cold store (scan + judge every run)", times["cold"], target),
        row("status, warm store (scan finds nothing new)", times["warm"], target),
        row("table only: Rich lays out every cell", rich_s, None),
        row(f"table only: fast path ({statistics.median(rich_s) / statistics.median(fast_s):.0f}x faster)", fast_s,
            None),
    ]  # fmt: skip
    for what in ("cold", "warm"):
        ours, base = times[what], times[f"base_{what}"]
        if base:
            wall = statistics.median(w for w, _, _ in ours) / statistics.median(w for w, _, _ in base)
            cpu = statistics.median(c for _, c, _ in ours) / statistics.median(c for _, c, _ in base)
            rows.append(row(f"baseline status, {what} store (this: {wall:.2f}x its wall, {cpu:.2f}x its CPU)", base,
                            None))  # fmt: skip
    return rows


def run(quick: bool) -> Result:
    runs, repeat = (1000, 1) if quick else (10_000, 3)
    baseline = os.environ.get("RANKINV_BENCH_BASELINE", "")
    start_load = os.getloadavg()[0]
    rows = _measure(runs, repeat, baseline)
    load = os.getloadavg()[0]
    return Result(
        f"one-shot status: {runs} tiny runs",
        ["what", "runs", "median s", "max s", "median CPU s", "load", "target", "target met"],
        rows,
        [f"wall-clock of a fresh `rankinv status ROOT` process (stdout to a pipe), {repeat} repetition(s), with its"
         f" CPU seconds (user + system) and the range of the 1-minute load average as each started; load average"
         f" {start_load:.1f} at the start, {load:.1f} at the end, on {os.cpu_count()} cores; with a baseline, the two"
         " alternate (each repetition: one cold and one warm status of each, the first of them switching)",
         "target: 5 s at 10,000 runs (none for --quick); each run: manifest + 5 JSONL records",
         f"baseline: {baseline or 'none (set RANKINV_BENCH_BASELINE to an interpreter with another rankinv)'}",
         "every status printed the identical table (checked)"],
    )  # fmt: skip
