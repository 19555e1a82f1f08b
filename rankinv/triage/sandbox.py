"""Run model-generated Python against unit tests, one contained process tree per sample.

THIS IS NOT A SECURITY SANDBOX on its own: see :mod:`rankinv.triage.isolation` for what each backend contains, and
run untrusted models' code in a throwaway VM or container.

Per sample: a private run directory, a cgroup when the host allows (``cgroup.kill``, a pids cap), the harness in
:mod:`rankinv.triage._harness` as a fresh session's leader, and under it the runner
(:mod:`rankinv.triage._runner`) in bubblewrap or under rlimits alone. The pass verdict is a random nonce that only
the runner's audit hook can write to a report pipe, and only after the program and its tests returned; the nonce
goes from this process to the runner through a pipe and is in no argv, environment or file. Afterwards every
process of the sample is killed (:mod:`rankinv.triage._sweep`) and the cgroups removed, even if the program killed
its harness. Off unless the user opts in.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from rankinv.errors import RankinvError
from rankinv.triage import _cgroup
from rankinv.triage._sweep import sweep
from rankinv.triage.isolation import SANDBOX_WORK, bwrap_argv, resolve, sandbox_env

OPT_IN_MESSAGE = (
    "running model-generated code is off: pass --allow-code-exec or set `[triage] allow_code_exec = true` "
    "in rankinv.toml (this is NOT a security sandbox; use a throwaway VM or container for untrusted models)"
)
HARNESS = Path(__file__).with_name("_harness.py")
RUNNER = Path(__file__).with_name("_runner.py")
TAIL_BYTES = 16_384
OUTPUT_CHARS = 2_000


@dataclass(frozen=True)
class ExecLimits:
    """Per-sample limits; the defaults suit HumanEval-sized programs."""

    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    fsize_mb: int = 16
    nofile: int = 64
    nproc: int = 32
    disk_mb: int = 64
    """total bytes a sample may write (a tmpfs under bwrap; a watched work directory under rlimits)"""
    isolation: str = "auto"
    """auto, bwrap or rlimit: see :mod:`rankinv.triage.isolation`"""

    def __post_init__(self) -> None:
        for name in ("timeout_s", "cpu_s", "memory_mb", "fsize_mb", "nofile", "nproc", "disk_mb"):
            value = getattr(self, name)
            if not value > 0 or value == float("inf"):  # a tmpfs of size 0 is unlimited; NaN fails `> 0`
                raise RankinvError(f"exec limit {name} must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class ExecResult:
    """How one program ended: status is pass, fail, timeout or oom; detail says why in a few words."""

    status: str
    exit_code: int | None
    signal: int | None
    detail: str
    seconds: float
    output: str = ""
    """the last few KB the program printed, for a person reading why it failed"""


def require_opt_in(allowed: bool) -> None:
    if not allowed:
        raise RankinvError(OPT_IN_MESSAGE)


def program_key(program: str, limits: ExecLimits) -> str:
    payload = json.dumps([program, asdict(limits)], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()


class Sandbox:
    """Runs programs with a worker pool; identical programs (collapsed models repeat themselves) run once."""

    def __init__(self, limits: ExecLimits | None = None, workers: int | None = None, *, allowed: bool,
                 root: Path | None = None) -> None:
        require_opt_in(allowed)
        self.limits = limits or ExecLimits()
        self.isolation = resolve(self.limits.isolation)  # a bad choice fails now, not at the first sample
        self.root = root
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._cache: dict[str, ExecResult] = {}
        self._lock = threading.Lock()

    def run(self, program: str) -> ExecResult:
        key = program_key(program, self.limits)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = run_program(program, self.limits, self.root)
        with self._lock:
            self._cache[key] = result
        return result

    def run_many(self, programs: Sequence[str]) -> list[ExecResult]:
        unique = list(dict.fromkeys(programs))
        with ThreadPoolExecutor(self.workers, thread_name_prefix="rankinv-sandbox") as pool:
            results = dict(zip(unique, pool.map(self.run, unique), strict=True))
        return [results[p] for p in programs]


def run_program(program: str, limits: ExecLimits, root: Path | None = None) -> ExecResult:
    """Run one program to completion under its isolation and classify how it ended (run directory under ``root``)."""
    isolation = resolve(limits.isolation)
    run_dir = Path(tempfile.mkdtemp(prefix="rankinv-exec-", dir=root))
    groups = _cgroup.create(run_dir.name, limits.nproc)
    try:
        work = run_dir / "work"
        work.mkdir()
        (work / "main.py").write_text(program, encoding="utf-8")
        nonce = secrets.token_hex(16)
        start = time.monotonic()
        report = _run_harness(run_dir, work, nonce, limits, isolation=isolation, groups=groups)
        return classify(run_dir, nonce, report, time.monotonic() - start)
    finally:
        sweep(str(run_dir), groups)
        _cgroup.remove(groups)
        shutil.rmtree(run_dir, ignore_errors=True)


@functools.cache
def runner_source() -> str:
    return RUNNER.read_text(encoding="utf-8")


def program_argv(marker: str, work: Path, isolation: str, limits: ExecLimits, fds: tuple[int, int]) -> list[str]:
    """The runner's command line (inside bubblewrap for ``bwrap``); ``marker`` tags every process of the sample."""
    inside = SANDBOX_WORK if isolation == "bwrap" else str(work)
    runner = [sys.executable, "-I", "-u", "-c", runner_source(), str(fds[0]), str(fds[1]), inside, marker]
    if isolation == "bwrap":
        return [*bwrap_argv(shutil.which("bwrap") or "bwrap", work / "main.py", limits.disk_mb), *runner]
    return runner


def _run_harness(run_dir: Path, work: Path, nonce: str, limits: ExecLimits, *, isolation: str,
                 groups: list[_cgroup.Cgroup]) -> bytes:
    """Start the harness holding the nonce pipe and the report pipe; wait; return what reached the report pipe."""
    nonce_r, nonce_w = os.pipe()
    report_r, report_w = os.pipe()
    try:
        os.write(nonce_w, nonce.encode())
        os.close(nonce_w)
        spec = {**asdict(limits), "work": str(work), "status": str(run_dir / "status.json"),
                "cgroups": [str(g.path) for g in groups], "pass_fds": [nonce_r, report_w],
                "argv": program_argv(str(run_dir), work, isolation, limits, (nonce_r, report_w)),
                "watch_disk": isolation != "bwrap", "drop_capabilities": isolation != "bwrap",
                "signal_in_exit_code": isolation == "bwrap"}
        with (run_dir / "stdout").open("wb") as out, (run_dir / "stderr").open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(HARNESS), json.dumps(spec)], stdin=subprocess.DEVNULL, stdout=out,
                stderr=err, cwd=str(work), env=sandbox_env(str(work)), start_new_session=True,
                pass_fds=(nonce_r, report_w),
            )
        os.close(report_w)
        report_w = -1
        try:
            proc.wait(timeout=limits.timeout_s + 10.0)
        except subprocess.TimeoutExpired:
            (run_dir / "backstop").touch()
        finally:
            sweep(str(run_dir), groups, session=proc.pid)
            proc.wait()
        return _drain(report_r)
    finally:
        for fd in (nonce_r, report_w, report_r):
            if fd >= 0:
                os.close(fd)


def _drain(fd: int, limit: int = 1 << 20) -> bytes:
    """What the report pipe holds, without blocking (a writer that escaped every sweep cannot hang us)."""
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while len(data) < limit:
            chunk = os.read(fd, limit)
            if not chunk:
                break
            data += chunk
    return data


def classify(run_dir: Path, nonce: str, report: bytes, seconds: float) -> ExecResult:
    """Decide pass / fail / timeout / oom: pass only when the nonce reached the report pipe."""
    status = _read_status(run_dir)
    code, sig = status.get("exit"), status.get("signal")
    status_name, detail = _verdict(run_dir, status, nonce.encode() in report.splitlines())
    output = _tail(run_dir / "stdout")[-OUTPUT_CHARS:]
    return ExecResult(status_name, code if isinstance(code, int) else None, sig if isinstance(sig, int) else None,
                      detail, seconds, output)


def _verdict(run_dir: Path, status: dict[str, int | bool | None], reported: bool) -> tuple[str, str]:
    code, sig = status.get("exit"), status.get("signal")
    err = _tail(run_dir / "stderr")
    if reported:
        return "pass", "tests ran and passed"
    if status.get("timed_out") or (run_dir / "backstop").exists() or sig == signal.SIGXCPU:
        return "timeout", "wall or CPU time limit"
    if "MemoryError" in err or "Cannot allocate memory" in err:
        return "oom", "memory limit"
    if status.get("disk_exceeded") or "No space left on device" in err:
        return "fail", "disk quota"
    if sig == signal.SIGXFSZ or "File too large" in err:
        return "fail", "output or file size limit (File too large)"
    if code == 0:
        return "fail", "exited 0 before the tests finished"
    if err.strip():
        return "fail", err.strip().splitlines()[-1][:200]
    if status.get("harness_lost"):
        return "fail", "the harness was killed before the program ended"
    return "fail", f"exit {code}, signal {sig}"


def _read_status(run_dir: Path) -> dict[str, int | bool | None]:
    try:
        data = json.loads((run_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {"exit": None, "signal": None, "harness_lost": True}
    return data if isinstance(data, dict) else {"harness_lost": True}


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - TAIL_BYTES))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
