"""The stat-polling watcher for filesystems inotify cannot see (NFS, Lustre, GPFS, CIFS, FUSE).

Every ``interval`` seconds it ``stat``s each watched directory and its entries and reports entries whose size or
mtime changed, appeared or vanished. A directory is listed again (``scandir``) only when its own mtime changed
since a listing that may be reused, and every few scans anyway; otherwise its known entries are stat-ed by name.
Cost is proportional to the number of watched entries, never to file sizes; the thread sleeps on an Event
between scans, so ``stop`` is immediate.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rankinv.daemon.fswatch import POLLING, EventQueue, FsEvent

log = logging.getLogger("rankinv.daemon")
Signature = dict[str, tuple[int, int]]
TRUST_SECONDS = 2.0
"""A directory listed when its mtime was at least this old is listed again only once its mtime changes (an entry
created in the same timestamp tick as the change before would leave the mtime as it was)."""
RELIST_EVERY = 15
"""Scans between full listings of each directory anyway (staggered), in case a clock or a cache hid a change."""


@dataclass
class _Watched:
    signature: Signature | None
    listed_as: tuple[int, int, int] | None = None  # (device, inode, mtime) of a listing that may be reused
    subdirs: frozenset[str] = frozenset()  # entries that were real directories (not symlinks) at that listing


Stats = dict[str, tuple[int, int]]
"""(size, mtime) of the directories stat-ed so far in this scan, by path (a watched folder's entry for a watched
subfolder is that subfolder's own stat: no second system call)."""


def _listing(directory: str, stats: Stats) -> _Watched:
    """A full listing; reusable later while the directory's own stat is unchanged, if its mtime was old enough."""
    try:
        st = os.stat(directory)
    except OSError:
        return _Watched(None)
    stats[directory] = (st.st_size, st.st_mtime_ns)
    listed = _signature(directory)
    if listed is None:
        return _Watched(None)
    signature, subdirs = listed
    trusted = time.time() - st.st_mtime_ns / 1e9 >= TRUST_SECONDS
    return _Watched(signature, (st.st_dev, st.st_ino, st.st_mtime_ns) if trusted else None, subdirs)


def _rescan(directory: str, old: _Watched, relist: bool, stats: Stats) -> _Watched:
    """The directory's signature now: when no entry can have been added, removed or renamed (its stat is as when it
    was listed), only its known entries are stat-ed, without listing it again."""
    if relist or old.listed_as is None or old.signature is None:
        return _listing(directory, stats)
    try:
        st = os.stat(directory)
    except OSError:
        return _Watched(None)
    stats[directory] = (st.st_size, st.st_mtime_ns)
    if (st.st_dev, st.st_ino, st.st_mtime_ns) != old.listed_as:
        return _listing(directory, stats)
    out: Signature = {}
    prefix = directory if directory.endswith(os.sep) else directory + os.sep
    for name in old.signature:
        path = prefix + name
        seen = stats.get(path) if name in old.subdirs else None
        if seen is not None:
            out[name] = seen
            continue
        try:
            entry = os.lstat(path)
        except OSError:
            continue
        out[name] = (entry.st_size, entry.st_mtime_ns)
    return old if out == old.signature else _Watched(out, old.listed_as, old.subdirs)


def _signature(directory: str) -> tuple[Signature, frozenset[str]] | None:
    """name → (size, mtime_ns) of every entry, and the names of real subdirectories; None when the directory is
    gone or unreadable."""
    out: Signature = {}
    subdirs = set()
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                out[entry.name] = (st.st_size, st.st_mtime_ns)
                if entry.is_dir(follow_symlinks=False):
                    subdirs.add(entry.name)
    except OSError:
        return None
    return out, frozenset(subdirs)


def _changed(old: Signature | None, new: Signature | None) -> list[str]:
    if old == new:
        return []  # the common case when idle, compared in C
    if old is None or new is None:
        return [] if old is new else [""]
    names = {n for n in old.keys() | new.keys() if old.get(n) != new.get(n)}
    return sorted(names)


class PollWatcher:
    mode = POLLING

    def __init__(self, events: EventQueue, interval: float):
        self.events, self.interval = events, interval
        self.dirs: dict[str, _Watched] = {}
        self.scans = 0
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="rankinv-poll", daemon=True)
        self.thread.start()

    def add(self, directory: Path) -> None:
        key = str(directory)
        with self.lock:
            if key not in self.dirs:
                self.dirs[key] = _listing(key, {})

    def discard(self, directory: Path) -> None:
        with self.lock:
            self.dirs.pop(str(directory), None)

    def watched(self) -> int:
        with self.lock:
            return len(self.dirs)

    def stop(self) -> None:
        self.halt.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None

    def _loop(self) -> None:
        while not self.halt.wait(self.interval):
            self.scan()

    def scan(self) -> int:
        """One pass over every watched directory; returns how many events it queued."""
        with self.lock:
            watched = sorted(self.dirs.items(), key=lambda item: -item[0].count(os.sep))  # subfolders first
        self.scans += 1
        changed = []
        stats: Stats = {}
        for i, (key, old) in enumerate(watched):
            new = _rescan(key, old, (self.scans + i) % RELIST_EVERY == 0, stats)
            if new is not old:
                changed.append((key, old, new))
        queued = 0
        for key, old, new in changed:
            with self.lock:
                if self.dirs.get(key) is not old:
                    continue  # discarded (or discarded and added again) meanwhile
                self.dirs[key] = new
            for name in _changed(old.signature, new.signature):
                self.events.put(FsEvent(os.path.join(key, name) if name else key))
                queued += 1
        return queued
