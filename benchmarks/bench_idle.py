"""An idle polling daemon: CPU while nothing changes under 1,000 runs, this daemon and a baseline side by side.

Two real ``rankinv daemon --foreground --poll`` processes (this interpreter's rankinv and, with
``RANKINV_BENCH_BASELINE``, another's, e.g. main's in its own venv) each watch a root of their own holding the
same 1,000 runs (a manifest and a callback JSONL each, as in the daemon benchmark), at the same time, so they
share the machine's load. CPU (user + system, from /proc) is measured in windows of 60 s (10 s with
``--quick``): right after both are ready, and once nothing has changed for longer than the polling watcher's quiet
time (:data:`rankinv.daemon.polling.QUIET_SECONDS`). The roots' files and folders are dated back, as a root is whose
runs ended before the daemon (re)started: :data:`AGE` seconds (longer than the watcher's dormant time: runs that
ended hours ago), then :data:`AGE_QUIET` (quiet, not dormant: runs that ended minutes ago); a third start on roots
written just before it (every folder changed a moment ago) measures only the window after start. Default daemon
settings.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rankinv.daemon.polling import QUIET_SECONDS

from benchmarks import Result
from benchmarks.bench_daemon import _cpu_seconds, _ready, _setup, _wait
from rankinv.store import store_path_for

WINDOW = 60.0
"""The inotify daemon's full rescan period (``[daemon] rescan_seconds``): a window of a daemon that rescans every
minute holds one rescan, so it measures the average. A polling daemon that rescans every ``poll_rescan_seconds``
(600) holds none in these windows: add the rescan's CPU over that period for the average. /proc counts CPU in
10 ms ticks, 0.02% of a core over 60 s."""
TARGET = 0.005
AGE = 7200.0
"""How long before the daemons start the roots' runs were last written (the first aged start: dormant folders)."""
AGE_QUIET = 600.0
"""The same for the second aged start: quiet folders, scanned every QUIET_EVERY intervals, not yet dormant."""


def _date_back(root: Path, seconds: float) -> None:
    """Every file and folder under ``root`` (itself too) last modified ``seconds`` ago."""
    when = time.time() - seconds
    for path in [*root.rglob("*"), root]:
        os.utime(path, (when, when), follow_symlinks=False)


def _start(python: str, root: Path, state: Path) -> subprocess.Popen[bytes]:
    argv = [python, "-m", "rankinv", "daemon", str(root), "--foreground", "--poll", "--state-dir", str(state)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd="/")


def _window(procs: dict[str, subprocess.Popen[bytes]], seconds: float) -> dict[str, float]:
    """Each daemon's share of a core over one window."""
    before = {who: _cpu_seconds(p.pid) for who, p in procs.items()}
    start = time.monotonic()
    time.sleep(seconds)
    took = time.monotonic() - start
    return {who: (_cpu_seconds(p.pid) - before[who]) / took for who, p in procs.items()}


def _measure(pythons: dict[str, str], runs: int, quiet_windows: int, window: float, age: float
             ) -> list[tuple[str, float, dict[str, float]]]:  # fmt: skip
    """(phase, load average, CPU share per daemon) for each window; ``age``: seconds the roots' runs were last
    written before the start (0: just written)."""
    with tempfile.TemporaryDirectory(prefix="rankinv-bench-") as tmp:
        procs = {}
        try:
            for who in pythons:
                _setup(Path(tmp) / who / "root", runs)
                if age:
                    _date_back(Path(tmp) / who / "root", age)
            for who, python in pythons.items():
                root, state = Path(tmp) / who / "root", Path(tmp) / who / "state"
                procs[who] = _start(python, root, state)
            for who, proc in procs.items():
                store = store_path_for(Path(tmp) / who / "root", Path(tmp) / who / "state")
                _wait(functools.partial(_ready, store, proc.pid), 600)
            ready = time.monotonic()
            started = f"just started, runs written {f'{age:g} s' if age else 'just'} before"
            out = [(started, os.getloadavg()[0], _window(procs, min(window, QUIET_SECONDS / 2)))]
            if not quiet_windows:
                return out
            time.sleep(max(0.0, ready + QUIET_SECONDS + 5 - time.monotonic()))
            for _ in range(quiet_windows):
                out.append((f"running, runs written {age:g} s before start", os.getloadavg()[0],
                            _window(procs, window)))  # fmt: skip
            return out
        finally:
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                proc.wait(timeout=60)


def run(quick: bool) -> Result:
    baseline = os.environ.get("RANKINV_BENCH_BASELINE", "")
    repeats = 1 if quick else int(os.environ.get("RANKINV_BENCH_REPEATS", "2"))
    runs = 100 if quick else 1000
    rows: list[list[object]] = []
    for repeat in range(repeats):
        pythons = {"this": sys.executable, **({"baseline": baseline} if baseline else {})}
        if repeat % 2:  # alternate which starts (and sets up its root) first
            pythons = dict(reversed(list(pythons.items())))
        window = 10.0 if quick else WINDOW
        quiet = 1 if quick else 2
        for phase, load, cpu in [*_measure(pythons, runs, quiet, window, AGE),
                                 *_measure(pythons, runs, quiet, window, AGE_QUIET),
                                 *_measure(pythons, runs, 0, window, 0.0)]:  # fmt: skip
            ratio = f"{cpu['this'] / cpu['baseline']:.2f}" if cpu.get("baseline") else ""
            met = "met" if cpu["this"] <= TARGET else "missed"
            rows.append([repeat + 1, phase, f"{load:.1f}", f"{cpu['this']:.2%}",
                         f"{cpu['baseline']:.2%}" if "baseline" in cpu else "", ratio, met])  # fmt: skip
    notes = [f"{runs} runs (manifest + JSONL each), --poll, default settings (poll_interval 2 s); CPU share of one "
             f"core over {10 if quick else WINDOW:g} s windows (the first at most half the quiet time); both daemons "
             "run at the same time on roots of their own",
             f"baseline: {baseline or 'none (set RANKINV_BENCH_BASELINE to an interpreter with another rankinv)'}",
             f"target <= {TARGET:.1%} of a core; {os.cpu_count()} cores, shared"]  # fmt: skip
    return Result("idle polling daemon", ["repeat", "phase", "load", "this", "baseline", "ratio", "target"], rows,
                  notes)  # fmt: skip
