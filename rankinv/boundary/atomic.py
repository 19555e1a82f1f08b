"""Write rankinv's own files (reports, sbatch scripts, state) so that a planted symlink is never written through.

The content goes to a fresh temporary file created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a name nobody could
have prepared) in the target's directory, opened once and addressed by descriptor, then ``rename`` puts it in
place: rename replaces a symlink at the target name rather than following it, and readers never see half a file.
The directory must be one the user owns: a folder a colleague controls is refused, not written into.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from rankinv.boundary.files import UnsafeFile


def _owned_dir(directory: Path) -> int:
    """A descriptor on ``directory`` after checking it is a directory the user owns."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    st = os.fstat(fd)
    if st.st_uid != os.geteuid():
        os.close(fd)
        raise UnsafeFile(f"{directory}: owned by uid {st.st_uid}, not by you; rankinv does not write there")
    return fd


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def write_atomic(path: str | Path, data: bytes | str, *, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` atomically; never follows a symlink at ``path``."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    dfd = _owned_dir(target.parent)
    tmp = f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(tmp, flags, mode, dir_fd=dfd)
        try:
            _write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, target.name, src_dir_fd=dfd, dst_dir_fd=dfd)
        os.fsync(dfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dfd)
        raise
    finally:
        os.close(dfd)
    return target


def create_exclusive(path: str | Path, data: bytes | str, *, mode: int = 0o644) -> Path:
    """Create ``path`` only if nothing (not even a dangling symlink) is there; FileExistsError otherwise."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    dfd = _owned_dir(target.parent)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(target.name, flags, mode, dir_fd=dfd)
        try:
            _write_all(fd, payload)
        finally:
            os.close(fd)
    finally:
        os.close(dfd)
    return target
