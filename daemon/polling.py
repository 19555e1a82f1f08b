"""The stat-polling watcher for filesystems inotify cannot see (NFS, Lustre, GPFS, CIFS, FUSE).

Every ``interval`` seconds it ``stat``s each watched directory and its entries and reports entries whose size or
mtime changed, appeared or vanished. A directory is listed again (``scandir``) only when its own mtime changed
since a listing that may be reused, and every few scans anyway; otherwise its known entries are stat-ed by name.
A directory in which nothing changed for :data:`QUIET_SECONDS` is scanned every :data:`QUIET_EVERY` scans
instead of every scan (staggered), until a change is seen in it again: a change is never lost, and is seen
within ``QUIET_EVERY`` scans at most. When a directory is added, the mtimes its first listing saw (its own and its
entries') tell how long it has been unchanged already: a runs root whose runs ended before the daemon started is
quiet from the first scan, not a minute later. The ``stat`` calls are the idle cost (about 2 µs each), and most folders
of a large runs root are quiet. Cost is proportional to the number of watched entries, never to file sizes; the
thread sleeps on an Event between scans, so ``stop`` is immediate.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
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
QUIET_SECONDS = 60.0
"""A directory with no change seen for this long is quiet: scanned every :data:`QUIET_EVERY` scans."""
QUIET_EVERY = 4
"""Scans between two scans of a quiet directory: its changes are seen within this many poll intervals."""


@dataclass
class _Pace:
    """How often a directory is scanned: every scan, or every ``QUIET_EVERY`` once quiet."""

    changed_at: float  # clock time of the last change seen (or of being added)
    phase: int  # staggers quiet directories over the scans
    next_scan: int = -1  # a quiet directory's next scan number (-1: not quiet yet)
    quiet_scans: int = 0  # scans since it became quiet (its full listings are every RELIST_EVERY of them)


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


def _unchanged_for(directory: str, watched: _Watched, stats: Stats) -> float:
    """Seconds since the newest mtime a listing saw (the directory's own and its entries'), at most
    :data:`QUIET_SECONDS`; 0 when unknown or in the future (a clock ahead of ours: counted as a change now)."""
    if watched.signature is None or directory not in stats:
        return 0.0
    newest = max((mtime for _, mtime in watched.signature.values()), default=stats[directory][1])
    newest = max(newest, stats[directory][1])
    return min(QUIET_SECONDS, max(0.0, time.time() - newest / 1e9))


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
        self.pace: dict[str, _Pace] = {}
        self.clock = time.monotonic
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
                stats: Stats = {}
                watched = self.dirs[key] = _listing(key, stats)
                since = self.clock() - _unchanged_for(key, watched, stats)
                self.pace[key] = _Pace(since, zlib.crc32(key.encode(errors="surrogateescape")))

    def discard(self, directory: Path) -> None:
        with self.lock:
            self.dirs.pop(str(directory), None)
            self.pace.pop(str(directory), None)

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
        now = self.clock()
        for i, (key, old) in enumerate(watched):
            pace = self.pace.get(key)
            relist = self._due(pace, now, i) if pace is not None else True
            if relist is None:
                continue  # quiet, and not its turn
            new = _rescan(key, old, relist, stats)
            if new is not old:
                changed.append((key, old, new))
                if pace is not None and new.signature != old.signature:
                    pace.changed_at, pace.quiet_scans, pace.next_scan = now, 0, -1
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

    def _due(self, pace: _Pace, now: float, index: int) -> bool | None:
        """Whether to list the directory again in this scan, or None when it is quiet and not due."""
        if now - pace.changed_at < QUIET_SECONDS:
            return (self.scans + index) % RELIST_EVERY == 0
        if pace.next_scan < 0:  # just became quiet: its first quiet scan within QUIET_EVERY, staggered
            pace.next_scan = self.scans + pace.phase % QUIET_EVERY
        if self.scans < pace.next_scan:
            return None
        pace.quiet_scans += 1
        pace.next_scan = self.scans + QUIET_EVERY
        return (pace.quiet_scans + pace.phase) % RELIST_EVERY == 0
