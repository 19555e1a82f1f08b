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


def _status(root: Path, state: Path, python: str = sys.executable) -> tuple[float, str]:
    argv = [python, "-m", "rankinv", "status", str(root), "--state-dir", str(state)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL, env=env).stdout
    return time.perf_counter() - start, out


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


def _measure(runs: int, repeat: int, baseline: str) -> list[list[Any]]:
    cold, warm, rich_s, fast_s, base_cold, base_warm = [], [], [], [], [], []
    outputs: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="rankinv-bench-status-") as tmp:
        root = Path(tmp) / "root"
        _make_root(root, runs)
        for r in range(repeat):
            state = Path(tmp) / f"state-{r}"
            seconds, out = _status(root, state)
            cold.append(seconds)
            seconds, again = _status(root, state)
            warm.append(seconds)
            outputs.update({out, again})
            rich_s.append(_table_seconds(state, root, fast=False))
            fast_s.append(_table_seconds(state, root, fast=True))
            if baseline:
                base = Path(tmp) / f"base-{r}"
                base_cold.append(_status(root, base, baseline)[0])
                base_warm.append(_status(root, base, baseline)[0])
    assert len(outputs) == 1, "every status printed the same table"

    def row(what: str, times: list[float], target: float | None) -> list[Any]:
        med = statistics.median(times)
        verdict = "-" if target is None else ("met" if max(times) <= target else f"missed by {med / target:.2f}x")
        return [what, runs, round(med, 2), round(max(times), 2), "-" if target is None else f"{target:g} s",
                verdict]  # fmt: skip

    target = TARGET_SECONDS if runs == 10_000 else None
    rows = [
        row("status, cold store (scan + judge every run)", cold, target),
        row("status, warm store (scan finds nothing new)", warm, target),
        row("table only: Rich lays out every cell", rich_s, None),
        row(f"table only: fast path ({statistics.median(rich_s) / statistics.median(fast_s):.0f}x faster)", fast_s,
            None),
    ]  # fmt: skip
    for what, ours, base in (("cold", cold, base_cold), ("warm", warm, base_warm)):
        if base:
            ratio = statistics.median(ours) / statistics.median(base)
            rows.append(row(f"baseline status, {what} store (this: {ratio:.2f}x its time)", base, None))
    return rows


def run(quick: bool) -> Result:
    runs, repeat = (1000, 1) if quick else (10_000, 3)
    baseline = os.environ.get("RANKINV_BENCH_BASELINE", "")
    rows = _measure(runs, repeat, baseline)
    load = os.getloadavg()[0]
    return Result(
        f"one-shot status: {runs} tiny runs",
        ["what", "runs", "median s", "max s", "target", "target met"],
        rows,
        [f"wall-clock of a fresh `rankinv status ROOT` process (stdout to a pipe), {repeat} repetition(s);"
         f" load average {load:.1f} on {os.cpu_count()} cores at the end",
         "target: 5 s at 10,000 runs (none for --quick); each run: manifest + 5 JSONL records",
         f"baseline: {baseline or 'none (set RANKINV_BENCH_BASELINE to an interpreter with another rankinv)'}",
         "every status printed the identical table (checked)"],
    )  # fmt: skip
