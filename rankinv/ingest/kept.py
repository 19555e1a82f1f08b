"""Logs kept open between reads, so a long-running reader (the daemon) pays one ``stat`` per append, not a path
resolution, a root check and three opens.

An open descriptor stays the file it was when :func:`~rankinv.boundary.files.open_regular` checked and opened
it; what can change is which file the *path* names. So before a kept descriptor is read again, the path is
``stat``-ed: only when it names that very file (same device and inode, still a regular file), under the same
confinement, and the caller resumes exactly where the last read through it ended, is it used. Anything else — a
symlink, FIFO or other file swapped in, a rotation, an offset from elsewhere (a rolled-back write), a vanished
path — closes it, and :func:`rankinv.ingest.tail.tail` takes its full path, with every check, and keeps the
file it opens anew. A path that leaves the root through a swapped folder names another file, so it is refused
there, as before; reaching the kept file by a new route is reading the same file.

Active only inside :func:`keeping`; one-shot commands never keep anything open. At most ``limit`` files are kept
(the first ones read; the others take the full path), and :meth:`KeptFiles.prune` closes those whose path no
longer names them (a deleted log's space is freed).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rankinv.boundary.files import Confinement, current_confinement, open_regular

LISTING_TRUST_SECONDS = 2.0
"""A folder listing is reused while the folder's mtime is unchanged and was this much older than the clock when
it was listed (an entry created in the same timestamp tick as the last change leaves the mtime as it was)."""


@dataclass
class Kept:
    file: BinaryIO
    dev: int
    ino: int
    policy: Confinement | None
    position: int  # where the last read through this file ended, and its fingerprint
    head: str
    first: bytes = b""  # the bytes ``head`` was made of: the file's first ones and those just before ``position``
    mark: bytes = b""


@dataclass(frozen=True)
class _Listing:
    dev: int
    ino: int
    mtime_ns: int
    names: tuple[str, ...]


class KeptFiles:
    """Open logs by path (see the module docstring); also caches folder listings for the rotated-copy check."""

    def __init__(self, limit: int = 1024, read_limit: int | None = None):
        """``read_limit``: bytes one read feeds its reader at most (rounded up to a block; None: to the end); a read
        that stopped short sets :attr:`more`, and the caller reads on after writing what it got."""
        self.limit = limit
        self.files: dict[str, Kept] = {}
        self.listings: dict[str, _Listing] = {}
        self.read_limit = read_limit
        self.more = False

    def reuse(self, path: Path, position: int, inode: int | None, head: str) -> tuple[Kept, os.stat_result] | None:
        """The kept file of ``path`` and the path's stat, if reading it on from ``position`` is safe; else None
        (and it is closed)."""
        key = str(path)
        kept = self.files.get(key)
        if kept is None:
            return None
        try:
            st = os.stat(key)
        except OSError:
            self.close(key)
            return None
        same = (st.st_dev, st.st_ino) == (kept.dev, kept.ino) and stat.S_ISREG(st.st_mode)
        if not same or kept.policy != current_confinement() or (position, inode, head) != (kept.position, kept.ino,
                                                                                            kept.head):  # fmt: skip
            self.close(key)
            return None
        return kept, st

    def keep(self, path: Path, position: int, inode: int | None, head: str,
             fingerprint: Callable[[BinaryIO, int], tuple[str, bytes, bytes]]) -> None:
        """After a full read: open ``path`` (every check) and keep it if it is the file read (inode ``inode``) and
        its bytes still make ``head`` by ``fingerprint`` (the tail's, of an open file: head, first bytes, mark; the
        bytes are kept: the next read compares the file's bytes with them, not their hashes)."""
        key = str(path)
        self.close(key)
        if inode is None or len(self.files) >= self.limit:
            return
        try:
            f = open_regular(path)
        except OSError:
            return
        st = os.fstat(f.fileno())
        if st.st_ino != inode:
            f.close()  # replaced since it was read: the next read takes the full path again
            return
        try:
            made, first, mark = fingerprint(f, position)
        except OSError:
            made, first, mark = "", b"", b""
        if made != head:
            f.close()  # rewritten since it was read: the next read takes the full path again
            return
        self.files[key] = Kept(f, st.st_dev, st.st_ino, current_confinement(), position, head, first, mark)

    def moved(self, kept: Kept, position: int, head: str, first: bytes, mark: bytes) -> None:
        kept.position, kept.head, kept.first, kept.mark = position, head, first, mark

    def close(self, key: str) -> None:
        kept = self.files.pop(key, None)
        if kept is not None:
            kept.file.close()

    def prune(self) -> None:
        """Close kept files whose path names another file or nothing now; forget folder listings."""
        for key, kept in list(self.files.items()):
            try:
                st = os.stat(key)
            except OSError:
                self.close(key)
                continue
            if (st.st_dev, st.st_ino) != (kept.dev, kept.ino):
                self.close(key)
        self.listings.clear()

    def close_all(self) -> None:
        for key in list(self.files):
            self.close(key)
        self.listings.clear()

    def names(self, folder: Path) -> tuple[str, ...] | None:
        """The entry names of ``folder`` as last listed, if it cannot have changed since; None when unknown."""
        key = str(folder)
        listing = self.listings.get(key)
        if listing is None:
            return None
        try:
            st = os.stat(key)
        except OSError:
            return None
        if (st.st_dev, st.st_ino, st.st_mtime_ns) != (listing.dev, listing.ino, listing.mtime_ns):
            del self.listings[key]
            return None
        return listing.names

    def listed(self, folder: Path, names: tuple[str, ...], before: os.stat_result) -> None:
        """Remember a listing of ``folder`` made after ``before`` (its stat), if that mtime is old enough."""
        if time.time() - before.st_mtime_ns / 1e9 >= LISTING_TRUST_SECONDS and len(self.listings) < 4 * self.limit:
            self.listings[str(folder)] = _Listing(before.st_dev, before.st_ino, before.st_mtime_ns, names)


_kept: ContextVar[KeptFiles | None] = ContextVar("rankinv_kept_files", default=None)


@contextlib.contextmanager
def keeping(files: KeptFiles | None) -> Iterator[None]:
    """Within this block (this thread), :func:`~rankinv.ingest.tail.tail` keeps logs open in ``files``."""
    token = _kept.set(files)
    try:
        yield
    finally:
        _kept.reset(token)


def kept_files() -> KeptFiles | None:
    return _kept.get()
