"""The daemon under load: N simulated GRPO runs each appending one log line per second.

For each watch mode (inotify, and stat-polling as on NFS/Lustre) a real ``rankinv daemon --foreground`` process
watches a temp root; this process writes the lines (spread evenly over each second) and measures the daemon's
CPU (from /proc, idle and under load), its peak RSS (VmHWM), and write-to-verdict latency: for a sample of
runs, the time from appending step s to the stored verdict's step reaching s (the verdict row's own
``updated_at``, written by the daemon). Lines are rankinv-callback JSONL with TRL's metric names.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import Result
from rankinv.store import ReadStore, store_path_for

CONFIG = "[daemon]\nheartbeat_seconds = 2.0\nevaluate_seconds = {evaluate}\n"
SAMPLED = 20


def _line(step: int) -> str:
    logs = {"entropy": round(1.2 * math.exp(-step / 400), 6), "reward": 0.3, "frac_reward_zero_std": 0.4,
            "kl": 0.01, "completions/mean_length": 120.0, "grad_norm": 0.5}  # fmt: skip
    return json.dumps({"step": step, "time": time.time(), "logs": logs}) + "\n"


def _setup(root: Path, runs: int) -> list[Path]:
    dirs = []
    for i in range(runs):
        d = root / f"grpo-{i:04d}"
        d.mkdir(parents=True)
        (d / "rankinv-run.json").write_text(json.dumps({"kind": "GRPO"}))
        (d / "rankinv.jsonl").write_text(_line(1))
        dirs.append(d)
    return dirs


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _wait(probe: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError("the daemon did not get ready in time")


def _ready(path: Path, pid: int) -> bool:
    with ReadStore.open(path) as s:
        h = s.health()
        return bool(h.get("pid") == str(pid) and h.get("ready") == "true")


def _load(dirs: list[Path], seconds: int, store: Path) -> tuple[list[float], float]:
    """Append one line per run per second for ``seconds``; returns latencies of the sampled runs."""
    sample = dirs[:: max(1, len(dirs) // SAMPLED)][:SAMPLED]
    pending: dict[str, tuple[int, float]] = {}
    latencies: list[float] = []
    reader = ReadStore.open(store)
    start = time.monotonic()
    for second in range(seconds):
        step = second + 2
        for i, d in enumerate(dirs):
            target = start + second + i / len(dirs)
            while (left := target - time.monotonic()) > 0:
                time.sleep(min(left, 0.01))
            with (d / "rankinv.jsonl").open("a") as f:
                f.write(_line(step))
            if d in sample:
                pending.setdefault(d.name, (step, time.time()))
            if i % 50 == 0:
                _collect(reader, pending, latencies)
    drain = time.monotonic() + 30
    while pending and time.monotonic() < drain:
        _collect(reader, pending, latencies)
        time.sleep(0.05)
    reader.close()
    return latencies, len(pending)


def _collect(reader: ReadStore, pending: dict[str, tuple[int, float]], latencies: list[float]) -> None:
    for run, (step, written) in list(pending.items()):
        v = reader.latest_verdict(run)
        if v is not None and v.step is not None and v.step >= step:
            latencies.append(v.updated_at - written)
            del pending[run]


def _measure(mode: str, evaluate: float, runs: int, seconds: int) -> list[Any]:
    with tempfile.TemporaryDirectory(prefix="rankinv-bench-") as tmp:
        root, state = Path(tmp) / "root", Path(tmp) / "state"
        dirs = _setup(root, runs)
        (Path(tmp) / "c.toml").write_text(CONFIG.format(evaluate=evaluate))
        argv = [sys.executable, "-m", "rankinv", "daemon", str(root), "--foreground", "--state-dir", str(state),
                "--config", str(Path(tmp) / "c.toml"), *(["--poll"] if mode == "polling" else [])]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            store = store_path_for(root, state)
            _wait(lambda: _ready(store, proc.pid), 600)
            idle_cpu, t0 = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(10)  # the idle window being measured
            idle = (_cpu_seconds(proc.pid) - idle_cpu) / (time.monotonic() - t0)
            cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
            latencies, missed = _load(dirs, seconds, store)
            busy = (_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
            rss = _hwm_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [math.nan] * 99
    return [mode, f"{evaluate:g} s", runs, seconds, f"{idle:.1%}", f"{busy:.0%}", round(rss), round(q[49], 2),
            round(q[98], 2), len(latencies), missed]  # fmt: skip


def run(quick: bool) -> Result:
    runs, seconds = (100, 10) if quick else (1000, 30)
    plans = [("inotify", 5.0), ("polling", 5.0), ("inotify", 0.0)]
    rows = [_measure(mode, evaluate, runs, seconds) for mode, evaluate in plans]
    return Result(
        f"daemon: {runs} runs, one log line per run per second",
        ["watch", "judge every", "runs", "load s", "CPU idle", "CPU load", "peak RSS MB", "p50 s", "p99 s",
         "latencies", "missed"],
        rows,
        ["CPU as a share of one core; latency = append of step s → stored verdict at step >= s",
         f"latency sampled on {SAMPLED} runs per second; 'missed' = samples still pending 30 s after the load",
         "default daemon settings (debounce 0.3 s, poll_interval 2 s, evaluate_seconds 5) except heartbeat 2 s;",
         "'judge every' 0 s: every run re-judged on each batch of events (no throttle)"],
    )
