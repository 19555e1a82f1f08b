"""Session leader for one sandboxed sample: ``python -I _harness.py SPEC_JSON`` (stdlib only).

It joins the sample's cgroups, dies with its parent, becomes a child subreaper (orphans of the program come back
here instead of PID 1), forks the program's command (``python -I -c <runner>``, wrapped in bubblewrap or not) with
rlimits, waits with a wall timeout while watching the work directory's size, then SIGKILLs and reaps every
descendant and writes ``status.json``. It never sees the pass nonce: the pipe that carries it goes straight to the
runner. The parent kills the sample's cgroups and scans ``/proc`` afterwards, so killing this process frees nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
MB = 1024 * 1024
POLL_S = 0.02


def session_members(sid: int, parent: int | None = None) -> list[int]:
    """Live (non-zombie) processes in session ``sid`` (or, if ``parent`` is given, also its children)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and (int(fields[3]) == sid or (parent is not None and int(fields[1]) == parent)):
            members.append(int(entry.name))
    return members


def _user_process_count() -> int:
    uid = os.getuid()
    return sum(1 for e in os.scandir("/proc") if e.name.isdigit() and _owner(e.path) == uid)


def _owner(path: str) -> int:
    try:
        return os.stat(path).st_uid
    except OSError:
        return -1


def _set_limits(spec: dict[str, Any]) -> None:
    memory = spec["memory_mb"] * MB
    nproc = spec["nproc"] + (0 if os.getuid() == 0 else _user_process_count())  # NPROC counts the whole user
    for limit, value in (
        (resource.RLIMIT_AS, (memory, memory)),
        (resource.RLIMIT_CPU, (spec["cpu_s"], spec["cpu_s"] + 1)),
        (resource.RLIMIT_FSIZE, (spec["fsize_mb"] * MB, spec["fsize_mb"] * MB)),
        (resource.RLIMIT_NOFILE, (spec["nofile"], spec["nofile"])),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NPROC, (nproc, nproc)),
    ):
        resource.setrlimit(limit, value)


def _prctl(option: int, value: int) -> int:
    try:
        import ctypes

        return int(ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0))
    except (OSError, AttributeError):  # not Linux: the parent's cgroup and /proc sweeps still run
        return -1


def _drop_capabilities() -> None:
    """Root without capabilities after exec (the bounding set goes): no mknod, raw I/O, ptrace of others, mounts."""
    try:
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def _start_program(spec: dict[str, Any]) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if spec["drop_capabilities"] and os.getuid() == 0:
                _drop_capabilities()
            _set_limits(spec)
            os.execv(spec["argv"][0], spec["argv"])
        finally:
            os._exit(127)
    return pid


def disk_usage(root: str) -> int:
    """Bytes allocated under ``root`` (not following symlinks)."""
    total, stack = 0, [root]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total


def _wait(pid: int, spec: dict[str, Any]) -> dict[str, Any]:
    """Wait for the program; kill it at the wall timeout or when the watched work directory outgrows its quota."""
    end = time.monotonic() + spec["timeout_s"]
    quota = spec["disk_mb"] * MB if spec["watch_disk"] else None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return {"exit": None, "signal": os.WTERMSIG(status)}
            code = os.waitstatus_to_exitcode(status)
            if spec["signal_in_exit_code"] and 128 < code < 128 + signal.NSIG:
                return {"exit": None, "signal": code - 128}  # bwrap, as init, exits 128+N for a child killed by N
            return {"exit": code, "signal": None}
        if time.monotonic() >= end:
            return {"exit": None, "signal": None, "timed_out": True}
        if quota is not None and disk_usage(spec["work"]) > quota:
            return {"exit": None, "signal": None, "disk_exceeded": True}
        time.sleep(POLL_S)


def _kill_and_reap(deadline_s: float = 10.0) -> None:
    me = os.getpid()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for pid in session_members(os.getsid(0), parent=me):
            if pid != me:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)


def main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    for group in spec["cgroups"]:
        Path(group, "cgroup.procs").write_text(str(os.getpid()))
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    pid = _start_program(spec)
    for fd in spec["pass_fds"]:
        os.close(fd)
    status = _wait(pid, spec)
    _kill_and_reap()
    Path(spec["status"]).write_text(json.dumps(status))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
