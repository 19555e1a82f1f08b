"""Kill every process of a sample after it ended, whatever it did to its session or its harness.

Three nets, each enough on its own where it exists: the sample's cgroups (``cgroup.kill``), its marker (every
process of a sample is a fork of the runner, whose command line carries the run directory's name; the runner's
audit hook refuses ``exec``, so no process of the sample can shed it), and the harness's session. bubblewrap adds
a fourth: its PID namespace dies with its init, which dies with the harness.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rankinv.triage import _cgroup
from rankinv.triage._harness import session_members


def sweep(marker: str, groups: list[_cgroup.Cgroup], session: int | None = None, deadline_s: float = 10.0) -> bool:
    """SIGKILL the sample's processes until none is left; True when none was left in time."""
    _cgroup.kill_all(groups, deadline_s)

    def alive() -> set[int]:
        found = set(marked_processes(marker)) | set([] if session is None else session_members(session))
        found.discard(os.getpid())
        return found

    return _cgroup.kill_until_gone(alive, time.monotonic() + deadline_s)


def marked_processes(marker: str) -> list[int]:
    """Our live (non-zombie) processes whose command line carries ``marker``."""
    needle, uid, found = marker.encode(), os.getuid(), []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid or needle not in Path(entry.path, "cmdline").read_bytes():
                continue
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2] != "Z":
            found.append(int(entry.name))
    return found
