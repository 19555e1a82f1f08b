"""Open files under a runs root as data: regular files only, never blocking, never outside the root unless allowed.

A log replaced by a FIFO would block ``open()`` forever; one replaced by a symlink to ``/dev/zero`` would never
end; a socket cannot be opened at all; a symlink to a private file elsewhere would copy it into the store. So
every reader opens through :func:`open_regular`: ``stat`` first (classifies without opening), then ``open`` with
``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block) and ``O_NOFOLLOW`` on the resolved path, then ``fstat``
of the descriptor actually opened — it must be a regular file.

Inside :func:`confined` (the daemon, ``rankinv runs``, ``status``), a path whose real location is outside the root
is refused unless ``follow_outside`` is set (``[daemon] follow_symlinks_outside_root``). Limit: a symlink swapped in
an intermediate directory between the check and the open is not caught (the final component is, by O_NOFOLLOW).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rankinv.errors import RankinvError

log = logging.getLogger("rankinv.ingest")

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}  # fmt: skip


class UnsafeFile(RankinvError, OSError):
    """A path rankinv refuses to read: not a regular file, or outside the runs root. Also an OSError, so code
    that already treats an unreadable file as absent keeps doing so."""


@dataclass(frozen=True)
class Confinement:
    root: Path
    follow_outside: bool


_confinement: ContextVar[Confinement | None] = ContextVar("rankinv_confinement", default=None)


@contextlib.contextmanager
def confined(root: str | Path, *, follow_outside: bool = False) -> Iterator[None]:
    """Within this block (this thread), reads through :func:`open_regular` stay inside ``root``."""
    token = _confinement.set(Confinement(Path(os.path.realpath(root)), follow_outside))
    try:
        yield
    finally:
        _confinement.reset(token)


def current_confinement() -> Confinement | None:
    """The confinement in force in this thread (None outside :func:`confined`)."""
    return _confinement.get()


def kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _inside(real: str, root: Path) -> bool:
    return real == str(root) or real.startswith(str(root).rstrip(os.sep) + os.sep)


_PROC_FD = "/proc/self/fd/"
_O_PATH = getattr(os, "O_PATH", 0)


def realpath(path: str | Path) -> str:
    """``os.path.realpath(path)``, for an existing path asked of the kernel: the path of what an ``O_PATH`` open
    reaches (``O_PATH`` opens no file for reading, so a FIFO or a device is not touched), one open and one readlink
    instead of an ``lstat`` per component. A missing path, a symlink loop, or a system without ``/proc`` or
    ``O_PATH``: ``os.path.realpath`` itself."""
    if _O_PATH:
        try:
            fd = os.open(path, _O_PATH | os.O_CLOEXEC)
        except OSError:
            return os.path.realpath(path)
        try:
            real = os.readlink(f"{_PROC_FD}{fd}")
        except OSError:
            real = ""
        finally:
            os.close(fd)
        if real.startswith("/") and not real.endswith(" (deleted)"):
            return real
    return os.path.realpath(path)


def checked_path(path: str | Path) -> str:
    """The real path to open, after the root check; raises :class:`UnsafeFile` when it leaves the root."""
    policy = _confinement.get()
    real = realpath(path)
    if policy is not None and not policy.follow_outside and not _inside(real, policy.root):
        how = "is" if real == os.path.abspath(path) else f"is a symlink to {real},"
        raise UnsafeFile(f"{path} {how} outside the runs root {policy.root}; not read "
                         "(set [daemon] follow_symlinks_outside_root = true to follow symlinks out of it)")
    return real


def open_regular(path: str | Path) -> BinaryIO:
    """``path`` opened for binary reading, or :class:`UnsafeFile` (FileNotFoundError when it does not exist)."""
    fd, _ = _open_regular(path)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_regular(path: str | Path) -> tuple[int, os.stat_result]:
    """:func:`open_regular`'s descriptor and its ``fstat``."""
    real = checked_path(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(f"{path}: symlink loop; not read") from None
        raise
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(f"{path}: {kind(st.st_mode)}, not a regular file; rankinv reads only regular files")
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"{path}: {kind(st.st_mode)}, not a regular file; rankinv reads only regular files")
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def _read_fd(fd: int, n: int) -> bytes:
    """Up to ``n`` bytes from ``fd``, fewer only at the end of the file (as a buffered ``read(n)``)."""
    chunks = []
    while n > 0 and (chunk := os.read(fd, n)):
        chunks.append(chunk)
        n -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_bytes(path: str | Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file (manifests, configs, reports: small by nature), read from the
    descriptor itself (no buffered file object: a tenth of a manifest's read)."""
    fd, st = _open_regular(path)
    try:
        want = min(st.st_size, limit) + 1  # a buffer of the file's size, not of the limit
        data = _read_fd(fd, want)
        if len(data) == want <= limit:  # the file grew since fstat: read on to the limit
            data += _read_fd(fd, limit + 1 - want)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UnsafeFile(f"{path}: larger than {limit} bytes; not read")
    return data


def read_text(path: str | Path, limit: int = 16 << 20) -> str:
    return read_bytes(path, limit).decode("utf-8", errors="replace")


def readable(path: str | Path) -> bool:
    """Would :func:`open_regular` accept ``path`` now? For listings of logs: what would be refused is skipped, and
    the first time a path is, the reason is logged (a FIFO, a device, a symlink out of the root or in a loop)."""
    try:
        mode = os.stat(checked_path(path)).st_mode
    except UnsafeFile as exc:
        _note(str(exc))
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            _note(f"{path}: symlink loop; not read")
        return False
    if stat.S_ISREG(mode):
        return True
    if not stat.S_ISDIR(mode):
        _note(f"{path}: {kind(mode)}, not a regular file; not read")
    return False


_noted: dict[str, None] = {}
NOTED_KEPT = 4096


def _note(reason: str) -> None:
    """Log a refusal once (bounded memory): a listing repeats every rescan, the log should not."""
    if reason in _noted:
        return
    _noted[reason] = None
    if len(_noted) > NOTED_KEPT:
        del _noted[next(iter(_noted))]
    log.warning("%s", reason)
