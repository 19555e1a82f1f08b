"""One daemon per (runs root, host): an ``fcntl`` lock on a file in the state directory.

The kernel drops the lock when the process dies, however it dies (``kill -9`` included), so a stale lock
cannot keep a new daemon from starting. The holder writes its pid into the lock file and the pidfile.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rankinv.boundary.atomic import write_atomic
from rankinv.errors import RankinvError
from rankinv.store.private import FILE_MODE, private_dir

LOCK_NAME = "daemon.lock"
PID_NAME = "daemon.pid"


class AlreadyRunning(RankinvError):
    """Another daemon holds the lock for this root on this host."""

    def __init__(self, pid: int | None, state_dir: Path):
        self.pid = pid
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"a rankinv daemon for this root is already running ({who}; state in {state_dir})")


def read_pid(state_dir: Path) -> int | None:
    for name in (PID_NAME, LOCK_NAME):
        try:
            text = (state_dir / name).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


class DaemonLock:
    """Hold the lock for as long as the object lives (or until :meth:`release`)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AlreadyRunning` naming the holder."""
        private_dir(self.state_dir)
        fd = os.open(self.state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(read_pid(self.state_dir), self.state_dir) from None
        self.fd = fd
        self._write_pid()

    def _write_pid(self) -> None:
        assert self.fd is not None
        text = f"{os.getpid()}\n"
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode(), 0)
        write_atomic(self.state_dir / PID_NAME, text, mode=0o600)

    def release(self) -> None:
        if self.fd is None:
            return
        (self.state_dir / PID_NAME).unlink(missing_ok=True)
        os.close(self.fd)  # closing the descriptor drops the flock
        self.fd = None


def holder(state_dir: Path) -> int | None:
    """The pid of the running daemon, or None when nobody holds the lock (checked, not guessed from a pidfile)."""
    path = state_dir / LOCK_NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_pid(state_dir) or -1
    finally:
        os.close(fd)
    return None
