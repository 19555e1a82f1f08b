"""Become a background daemon: double fork, new session, stdio to the log file, and a handshake.

The original process waits on a pipe until the daemon says it started (lock taken, store open) or why it
could not, so ``rankinv daemon ROOT`` prints the truth and exits with the right code, never "started" for a
daemon that died a moment later.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from rankinv.store.private import FILE_MODE, private_dir

Report = Callable[[str], None]


def _redirect_stdio(log_path: Path) -> None:
    private_dir(log_path.parent)
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, FILE_MODE)
    os.fchmod(log, FILE_MODE)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def detach(log_path: Path, body: Callable[[Report], int]) -> str:
    """Run ``body(report)`` in a detached grandchild; return what it reported (empty if it died first).

    ``body`` calls ``report("started <pid>")`` or ``report("error: …")`` once; only the original process
    returns from this function.
    """
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child > 0:
        os.close(write_fd)
        message = _read_all(read_fd)
        os.waitpid(child, 0)
        return message
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)  # the session leader exits: the daemon can never reacquire a terminal
    os.chdir("/")
    _redirect_stdio(log_path)
    code = 1
    try:
        code = body(_reporter(write_fd))
    except BaseException:  # the daemon's last words go to its log, then it exits non-zero
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reporter(fd: int) -> Report:
    sent = [False]

    def report(message: str) -> None:
        if sent[0]:
            return
        sent[0] = True
        os.write(fd, message.encode())
        os.close(fd)

    return report
