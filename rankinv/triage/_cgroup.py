"""Per-sample cgroups: the one place every process of a sample is listed, whatever it does to its session.

A cgroup v2 directory gives ``cgroup.kill`` (the kernel kills every member, atomically against forks) and
``cgroup.events`` (``populated 0`` once all are gone); a v1 ``pids`` directory caps the process count (RLIMIT_NPROC
does not bind root). Membership survives ``setsid``, double forks and the harness being killed: only a write to
another ``cgroup.procs`` moves a process out, and the sandboxed program can reach none (bubblewrap shows no
``/sys``; the rlimit backend's audit hook refuses writes outside its work directory). Both need a writable
hierarchy (root, or a systemd-delegated subtree); without one, the caller falls back to scanning ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

V1_PIDS = Path("/sys/fs/cgroup/pids")


@dataclass(frozen=True)
class Cgroup:
    path: Path
    version: int

    def members(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []


def _v2_mounts() -> list[Path]:
    mounts = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            mounts.append(Path(left.split()[4]))
    return mounts


def _v2_parents() -> list[Path]:
    """Our own v2 cgroup (a delegated subtree lets us nest there), then each v2 mount's root."""
    own = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                own = line[3:].strip().lstrip("/")
    parents = []
    for mount in _v2_mounts():
        if own:
            parents.append(mount / own)
        parents.append(mount)
    return parents


def _mkdir(parent: Path, name: str) -> Path | None:
    if not (parent / "cgroup.procs").exists() or not os.access(parent, os.W_OK):
        return None
    path = parent / name
    try:
        path.mkdir()
    except OSError:
        return None
    return path


def create(name: str, nproc: int) -> list[Cgroup]:
    """A v2 cgroup (for cgroup.kill) and a v1 pids cgroup capped at ``nproc``, whichever this host lets us make."""
    groups = []
    for parent in _v2_parents():
        path = _mkdir(parent, name)
        if path is not None and (path / "cgroup.kill").exists():
            if (path / "pids.max").exists():  # pids delegated to this subtree: cap here too (pure v2 hosts)
                with contextlib.suppress(OSError):
                    (path / "pids.max").write_text(str(nproc))
            groups.append(Cgroup(path, 2))
            break
        if path is not None:
            _rmdir(path)
    path = _mkdir(V1_PIDS, name)
    if path is not None:
        try:
            (path / "pids.max").write_text(str(nproc))
            groups.append(Cgroup(path, 1))
        except OSError:
            _rmdir(path)
    return groups


def kill_all(groups: list[Cgroup], deadline_s: float = 10.0) -> bool:
    """SIGKILL every member of every group until all are empty; True when they emptied in time."""
    end = time.monotonic() + deadline_s
    for group in groups:
        if group.version == 2:
            with contextlib.suppress(OSError):
                (group.path / "cgroup.kill").write_text("1")
    return kill_until_gone(lambda: [pid for group in groups for pid in group.members()], end)


def kill_until_gone(alive: Callable[[], Iterable[int]], end: float) -> bool:
    """SIGKILL whatever ``alive()`` lists until it lists nothing; True when that happened before ``end``."""
    while time.monotonic() < end:
        pids = list(alive())
        if not pids:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return False


def remove(groups: list[Cgroup], deadline_s: float = 5.0) -> list[Path]:
    """rmdir each group (retrying while the last members are reaped); the paths that could not be removed."""
    return [g.path for g in groups if not _rmdir(g.path, deadline_s)]


def _rmdir(path: Path, deadline_s: float = 5.0) -> bool:
    end = time.monotonic() + deadline_s
    while True:
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() >= end:
                return False
            time.sleep(0.02)
