"""Which isolation a sample runs under, and the command line that builds it.

``bwrap``: bubblewrap with every namespace unshared (no network, own PID namespace, own IPC and hostname),
``--die-with-parent``, a new session, all capabilities dropped, a read-only root that holds only ``/usr``, the
Python installation and a minimal ``/dev`` (no ``/home``, ``/root``, ``/etc``, ``/proc``, ``/sys`` or runs root),
and a size-limited private tmpfs at ``/tmp`` as the only writable place (the per-sample disk quota). ``rlimit``: the
host filesystem and network as the user sees them, contained only by rlimits, the runner's audit hook, the harness,
and (run by root) an empty capability bounding set. ``auto`` picks bwrap when it is installed and a probe sandbox
starts here (user namespaces can be off).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rankinv.errors import RankinvError

ISOLATIONS = ("auto", "bwrap", "rlimit")
SANDBOX_WORK = "/tmp"
TOP_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def python_roots() -> list[str]:
    """Directories the interpreter needs: its prefixes and where its executable really lives."""
    exe = Path(os.path.realpath(sys.executable))
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, str(exe.parent.parent)}
    return sorted(r for r in roots if r and not r.startswith("/usr/") and r != "/usr")


def bwrap_argv(bwrap: str, program: Path, disk_mb: int) -> list[str]:
    """bubblewrap options up to ``--``: the sandbox in which ``python -I`` runs ``program`` from ``/tmp``."""
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr"]
    for top in TOP_DIRS:
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    argv += ["--dev", "/dev", "--size", str(disk_mb * 1024 * 1024), "--tmpfs", SANDBOX_WORK]
    for root in python_roots():  # after the tmpfs, so an interpreter installed under /tmp stays visible
        argv += ["--ro-bind", root, root]
    argv += ["--ro-bind", str(program), f"{SANDBOX_WORK}/main.py", "--chdir", SANDBOX_WORK,
             "--remount-ro", "/", "--remount-ro", "/dev", "--clearenv"]
    for key, value in sandbox_env(SANDBOX_WORK).items():
        argv += ["--setenv", key, value]
    return [*argv, "--"]


def sandbox_env(work: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot be used here (None when a probe sandbox ran ``python -I -c pass``)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="rankinv-probe-") as tmp:
        program = Path(tmp, "main.py")
        program.write_text("pass\n")
        argv = [*bwrap_argv(bwrap, program, 1), sys.executable, "-I", "-c", "open('main.py').read()"]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap probe failed: {exc}"
    if done.returncode != 0:
        return f"bwrap probe failed: {done.stderr.decode(errors='replace').strip()[:200]}"
    return None


def resolve(isolation: str) -> str:
    """``auto`` → bwrap when it works here, else rlimit; ``bwrap`` when it does not work is an error."""
    if isolation not in ISOLATIONS:
        raise RankinvError(f"exec isolation must be one of {', '.join(ISOLATIONS)}, got {isolation!r}")
    if isolation == "rlimit":
        return "rlimit"
    problem = bwrap_problem()
    if problem is None:
        return "bwrap"
    if isolation == "bwrap":
        raise RankinvError(f"exec isolation bwrap was asked for but {problem}")
    return "rlimit"
