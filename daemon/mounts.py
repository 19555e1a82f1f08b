"""Which filesystem a path lives on, from ``/proc/self/mountinfo``: inotify sees nothing on network filesystems.

inotify only reports changes made through the local kernel, so on NFS, Lustre, GPFS, CIFS or a FUSE mount a
file appended on a compute node produces no event on the login node. Those roots must be stat-polled, and a
SQLite store must not live there (its locking is unsafe on them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NETWORK_TYPES = frozenset(
    {"nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "beegfs", "panfs", "9p", "afs"}
)
MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str

    @property
    def is_network(self) -> bool:
        return self.fstype in NETWORK_TYPES or self.fstype.startswith("fuse")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """Mount points and filesystem types; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        mounts.append(Mount(_unescape(fields[4]), right.split()[0]))
    return mounts


def mount_of(path: str | Path, table: list[Mount] | None = None) -> Mount | None:
    """The mount holding ``path``: the longest mount point that is a prefix of its resolved form."""
    if table is None:
        try:
            table = parse_mountinfo(MOUNTINFO.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return None
    target = os.path.realpath(path)
    best: Mount | None = None
    for mount in table:
        point = mount.point.rstrip("/") or "/"
        inside = target == point or target.startswith(point + "/") or point == "/"
        if inside and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = mount
    return best
