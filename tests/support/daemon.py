"""Helpers for the daemon tests: start ``python -m rankinv daemon`` as a real process, read its store, and
wait on conditions with deadlines (never fixed sleeps)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rankinv.store import ReadStore, store_path_for

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def env() -> dict[str, str]:
    out = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), out.get("PYTHONPATH")]))
    return out


def start(root: Path, state: Path, *args: str, log: Path | None = None,
          extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    """``rankinv daemon ROOT --foreground --state-dir STATE ARGS`` as a child process."""
    state.mkdir(parents=True, exist_ok=True)
    out = (log or state / f"foreground-{time.monotonic_ns()}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rankinv", "daemon", str(root), "--foreground", "--state-dir", str(state), *args],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**env(), **(extra_env or {})},
    )  # fmt: skip
    out.close()
    return proc


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rankinv", *args], capture_output=True, text=True, env=env(),
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)  # fmt: skip


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90.0, every: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # the store may not exist yet: keep polling
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last probe gave {last!r}")


def read(root: Path, state: Path, fn: Callable[[ReadStore], T]) -> T:
    """Open the daemon's store read-only, apply ``fn``, close."""
    store = ReadStore.open(store_path_for(root, state))
    try:
        return fn(store)
    finally:
        store.close()


def metrics(store: ReadStore, run: str) -> dict[tuple[str, int], float]:
    series = store.series(run).items()
    return {(name, step): value for name, s in series for step, value in zip(s.steps, s.values, strict=True)}
