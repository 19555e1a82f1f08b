"""Run model-generated Python against unit tests, one contained subprocess per sample.

THIS IS NOT A SECURITY SANDBOX. It keeps honest mistakes and ordinary hostile programs (fork bombs,
infinite loops, unbounded output or memory, ``sys.exit(0)`` before the tests, deleting files) from
hurting the machine or faking a pass. A program written to escape (ptrace, setsid and double fork,
ctypes, reading the harness) can. Run untrusted code in a VM or container you can throw away.

Each sample runs as ``python -I`` in a fresh session (``start_new_session``) whose leader is the
harness in :mod:`rankinv.triage._harness`: it joins a pids cgroup when it can (root with a writable
cgroup pids controller), makes itself a child subreaper, then forks the program's interpreter with
rlimits (address space, CPU, file size, open files, processes, no core dumps), stdin closed, cwd and
HOME a private temp directory. On exit or wall timeout the harness kills and reaps every descendant;
the parent kills the whole session as a backstop. A sample passes only if it exits 0 *and* printed a
random nonce that the harness appends after the tests. Off unless the user opts in.
"""

from __future__ import annotations

import contextlib
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
from rankinv.triage._harness import session_members

OPT_IN_MESSAGE = (
    "running model-generated code is off: pass --allow-code-exec or set `[triage] allow_code_exec = true` "
    "in rankinv.toml (this is NOT a security sandbox; use a throwaway VM or container for untrusted models)"
)
HARNESS = Path(__file__).with_name("_harness.py")
TAIL_BYTES = 16_384


@dataclass(frozen=True)
class ExecLimits:
    """Per-sample limits; the defaults suit HumanEval-sized programs."""

    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    fsize_mb: int = 16
    nofile: int = 64
    nproc: int = 32


@dataclass(frozen=True)
class ExecResult:
    """How one program ended: status is pass, fail, timeout or oom; detail says why in a few words."""

    status: str
    exit_code: int | None
    signal: int | None
    detail: str
    seconds: float


def require_opt_in(allowed: bool) -> None:
    if not allowed:
        raise RankinvError(OPT_IN_MESSAGE)


def program_key(program: str, limits: ExecLimits) -> str:
    payload = json.dumps([program, asdict(limits)], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()


class Sandbox:
    """Runs programs with a worker pool; identical programs (collapsed models repeat themselves) run once."""

    def __init__(self, limits: ExecLimits | None = None, workers: int | None = None, *, allowed: bool) -> None:
        require_opt_in(allowed)
        self.limits = limits or ExecLimits()
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._cache: dict[str, ExecResult] = {}
        self._lock = threading.Lock()

    def run(self, program: str) -> ExecResult:
        key = program_key(program, self.limits)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = run_program(program, self.limits)
        with self._lock:
            self._cache[key] = result
        return result

    def run_many(self, programs: Sequence[str]) -> list[ExecResult]:
        unique = list(dict.fromkeys(programs))
        with ThreadPoolExecutor(self.workers, thread_name_prefix="rankinv-sandbox") as pool:
            results = dict(zip(unique, pool.map(self.run, unique), strict=True))
        return [results[p] for p in programs]


def run_program(program: str, limits: ExecLimits) -> ExecResult:
    """Run one program to completion in its own session and classify how it ended."""
    run_dir = Path(tempfile.mkdtemp(prefix="rankinv-exec-"))
    cgroup = _make_cgroup(run_dir.name, limits.nproc)
    try:
        work = run_dir / "work"
        work.mkdir()
        (work / "main.py").write_text(program, encoding="utf-8")
        nonce = secrets.token_hex(16)
        start = time.monotonic()
        _run_harness(run_dir, work, nonce, limits, cgroup)
        return classify(run_dir, nonce, time.monotonic() - start)
    finally:
        _remove_cgroup(cgroup)
        shutil.rmtree(run_dir, ignore_errors=True)


def _run_harness(run_dir: Path, work: Path, nonce: str, limits: ExecLimits, cgroup: Path | None) -> None:
    spec = {**asdict(limits), "work": str(work), "status": str(run_dir / "status.json"), "cgroup": str(cgroup or "")}
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8",
           "RANKINV_NONCE": nonce, "PYTHONHASHSEED": "0"}
    with (run_dir / "stdout").open("wb") as out, (run_dir / "stderr").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(HARNESS), json.dumps(spec)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(work), env=env, start_new_session=True,
        )
        try:
            proc.wait(timeout=limits.timeout_s + 10.0)
        except subprocess.TimeoutExpired:
            (run_dir / "backstop").touch()
        finally:
            kill_session(proc.pid)
            proc.wait()


def kill_session(sid: int, deadline_s: float = 10.0) -> None:
    """SIGKILL every process in session ``sid`` until none is left (zombies excepted)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        members = [pid for pid in session_members(sid) if pid != os.getpid()]
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def classify(run_dir: Path, nonce: str, seconds: float) -> ExecResult:
    """Read what the harness recorded and decide pass / fail / timeout / oom."""
    status = _read_status(run_dir)
    code, sig = status.get("exit"), status.get("signal")
    err = _tail(run_dir / "stderr")
    out_lines = _tail(run_dir / "stdout").splitlines()
    if status.get("timed_out") or (run_dir / "backstop").exists() or sig == signal.SIGXCPU:
        return ExecResult("timeout", code, sig, "wall or CPU time limit", seconds)
    if "MemoryError" in err or "Cannot allocate memory" in err:
        return ExecResult("oom", code, sig, "memory limit", seconds)
    if sig == signal.SIGXFSZ:
        return ExecResult("fail", code, sig, "output or file size limit", seconds)
    if code == 0 and nonce in (line.strip() for line in out_lines):
        return ExecResult("pass", code, sig, "tests ran and passed", seconds)
    if code == 0:
        return ExecResult("fail", code, sig, "exited 0 before the tests finished", seconds)
    reason = err.strip().splitlines()[-1][:200] if err.strip() else f"exit {code}, signal {sig}"
    return ExecResult("fail", code, sig, reason, seconds)


def _read_status(run_dir: Path) -> dict[str, int | bool | None]:
    try:
        data = json.loads((run_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {"exit": None, "signal": None, "timed_out": False}
    return data if isinstance(data, dict) else {}


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - TAIL_BYTES))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _cgroup_root() -> Path | None:
    """A writable cgroup pids controller: v1 ``/sys/fs/cgroup/pids`` or a v2 root delegating pids."""
    v1 = Path("/sys/fs/cgroup/pids")
    if (v1 / "cgroup.procs").exists() and os.access(v1, os.W_OK):
        return v1
    v2 = Path("/sys/fs/cgroup")
    controllers = v2 / "cgroup.subtree_control"
    if controllers.exists() and "pids" in controllers.read_text().split() and os.access(v2, os.W_OK):
        return v2
    return None


def _make_cgroup(name: str, nproc: int) -> Path | None:
    """A pids cgroup capping the sample's process count: RLIMIT_NPROC alone does not bind root."""
    root = _cgroup_root()
    if root is None:
        return None
    path = root / name
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(nproc))
    except OSError:
        _remove_cgroup(path)
        return None
    return path


def _remove_cgroup(path: Path | None) -> None:
    if path is None:
        return
    for _ in range(100):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
