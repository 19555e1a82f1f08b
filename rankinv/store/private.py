"""The state directory is private: 0700 and ours, its files 0600, whatever the umask.

It holds the store (verdicts, run names, paths), the daemon's log, its lock and pidfile and the arm switch.
A directory someone else owns, or that group or others can write, could have its files read, replaced or
planted (an ``armed.json`` that arms the daemon): it is refused with a clear error instead of used. Files are
created with mode 0600 by :func:`private_file` / :func:`write_private`, never left to the umask (SQLite gives
its WAL and SHM files the mode of the database file).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rankinv.errors import RankinvError

DIR_MODE, FILE_MODE = 0o700, 0o600


class StateDirError(RankinvError):
    """A state directory rankinv will not use; the message says why and what to do."""


def _check(path: Path, uid: int) -> None:
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"{path}: not a directory; rankinv keeps its state there")
    if info.st_uid != uid:
        raise StateDirError(
            f"{path}: the state directory belongs to uid {info.st_uid}, not you (uid {uid}); refusing to keep the "
            "store, log, lock and arm switch there (choose another with --state-dir or [daemon] state_dir)"
        )
    if info.st_mode & 0o022:
        raise StateDirError(
            f"{path}: the state directory is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"refusing to use it (fix: chmod 700 {path})"
        )
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)  # ours and not writable by others: only tightened (e.g. 0755 from before)


def private_dir(path: Path) -> Path:
    """Create ``path`` mode 0700 (folders created on the way too), or check that the existing one is private."""
    for folder in [*reversed(path.parents), path]:
        if folder.exists():
            continue
        try:
            folder.mkdir(mode=DIR_MODE)
            os.chmod(folder, DIR_MODE)  # mkdir's mode is masked by the umask
        except FileExistsError:
            pass
    _check(path, os.getuid())
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists with mode 0600 (never follows a symlink planted in its place)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` in a new 0600 file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
