"""The stat-polling watcher for filesystems inotify cannot see (NFS, Lustre, GPFS, CIFS, FUSE).

Every ``interval`` seconds it ``stat``s watched directories and their entries and reports entries whose size or
mtime changed, appeared or vanished. A directory is listed again (``scandir``) only when its own mtime changed
since a listing that may be reused, and every few of its scans anyway; otherwise its known entries are stat-ed by
name. A watched folder's entry for a watched subfolder is that subfolder's own stat, as last taken by its own scan
(no second system call: the subfolder's changes are reported by its own scan).

How often a directory is scanned depends on how long nothing changed in it: every scan when something did in the
last :data:`QUIET_SECONDS`; every :data:`QUIET_EVERY` scans once quiet; every :data:`DORMANT_EVERY` scans once
nothing changed for :data:`DORMANT_SECONDS` (staggered by a per-directory phase), until a change is seen in it
again. A change is never lost, and is seen within that many scans at most. When a directory is added, the mtimes
its first listing saw (its own and its entries') tell how long it has been unchanged already: a runs root whose
runs ended before the daemon started is quiet (or dormant) from the first scan. Each scan visits only the
directories due in it (a schedule by scan number), so an idle pass costs the ``stat`` calls of those directories
(about 2 µs each) and little Python besides. Cost is proportional to the number of watched entries, never to file
sizes; the thread sleeps on an Event between scans, so ``stop`` is immediate.
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
"""A directory's scans between its full listings anyway (staggered), in case a clock or a cache hid a change."""
QUIET_SECONDS = 60.0
"""A directory with no change seen for this long is quiet: scanned every :data:`QUIET_EVERY` scans."""
QUIET_EVERY = 4
"""Scans between two scans of a quiet directory: its changes are seen within this many poll intervals."""
DORMANT_SECONDS = 3600.0
"""A directory with no change seen for this long is dormant: scanned every :data:`DORMANT_EVERY` scans."""
DORMANT_EVERY = 15
"""Scans between two scans of a dormant directory: its changes are seen within this many poll intervals."""


@dataclass(eq=False)
class _Pace:
    """When a directory is scanned: every scan (``due`` -1), or at scan ``due`` once quiet or dormant."""

    changed_at: float  # clock time of the last change seen (or of being added)
    phase: int  # staggers quiet and dormant directories over the scans
    depth: int  # path separators in its path: subfolders are scanned before their parents
    due: int = -1  # the scan number a quiet or dormant directory is next scanned in (-1: every scan)
    quiet_scans: int = 0  # scans since it became quiet (its full listings are every RELIST_EVERY of them)


@dataclass
class _Watched:
    signature: Signature | None
    listed_as: tuple[int, int, int] | None = None  # (device, inode, mtime) of a listing that may be reused
    subdirs: frozenset[str] = frozenset()  # entries that were real directories (not symlinks) at that listing
    own: tuple[int, int] | None = None  # the directory's own (size, mtime) at its last stat


Stats = dict[str, tuple[int, int]]
"""(size, mtime) of the directories stat-ed so far in this scan, by path."""
Known = dict[str, _Watched]
"""The watched directories as the scan began: a subfolder not stat-ed in this scan has its own last stat there."""


def _listing(directory: str, stats: Stats, known: Known | None = None) -> _Watched:
    """A full listing; reusable later while the directory's own stat is unchanged, if its mtime was old enough."""
    try:
        st = os.stat(directory)
    except OSError:
        return _Watched(None)
    own = stats[directory] = (st.st_size, st.st_mtime_ns)
    listed = _signature(directory, stats, known or {})
    if listed is None:
        return _Watched(None)
    signature, subdirs = listed
    trusted = time.time() - st.st_mtime_ns / 1e9 >= TRUST_SECONDS
    return _Watched(signature, (st.st_dev, st.st_ino, st.st_mtime_ns) if trusted else None, subdirs, own)


def _rescan(directory: str, old: _Watched, relist: bool, stats: Stats, known: Known) -> _Watched:
    """The directory's signature now: when no entry can have been added, removed or renamed (its stat is as when it
    was listed), only its known entries are stat-ed, without listing it again."""
    if relist or old.listed_as is None or old.signature is None:
        return _listing(directory, stats, known)
    try:
        st = os.stat(directory)
    except OSError:
        return _Watched(None)
    own = stats[directory] = (st.st_size, st.st_mtime_ns)
    if (st.st_dev, st.st_ino, st.st_mtime_ns) != old.listed_as:
        return _listing(directory, stats, known)
    out: Signature = {}
    prefix = directory if directory.endswith(os.sep) else directory + os.sep
    subdirs = old.subdirs
    for name in old.signature:
        path = prefix + name
        if name in subdirs:
            seen = _known_stat(path, stats, known)
            if seen is not None:
                out[name] = seen
                continue
        try:
            entry = os.lstat(path)
        except OSError:
            continue
        out[name] = (entry.st_size, entry.st_mtime_ns)
    if out == old.signature and own == old.own:
        return old
    return _Watched(out, old.listed_as, old.subdirs, own)


def _known_stat(path: str, stats: Stats, known: Known) -> tuple[int, int] | None:
    """A watched subfolder's own (size, mtime): from this scan if it was stat-ed in it, else from its last scan."""
    seen = stats.get(path)
    if seen is None:
        watched = known.get(path)
        seen = watched.own if watched is not None else None
    return seen


def _signature(directory: str, stats: Stats, known: Known) -> tuple[Signature, frozenset[str]] | None:
    """name → (size, mtime_ns) of every entry, and the names of real subdirectories; None when the directory is
    gone or unreadable. A watched subfolder's entry is its own last stat (no system call)."""
    out: Signature = {}
    subdirs = set()
    prefix = directory if directory.endswith(os.sep) else directory + os.sep
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                if is_dir:
                    subdirs.add(entry.name)
                    seen = _known_stat(prefix + entry.name, stats, known) if known else None
                    if seen is not None:
                        out[entry.name] = seen
                        continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                out[entry.name] = (st.st_size, st.st_mtime_ns)
    except OSError:
        return None
    return out, frozenset(subdirs)


def _unchanged_for(watched: _Watched) -> float:
    """Seconds since the newest mtime a listing saw (the directory's own and its entries'), at most
    :data:`DORMANT_SECONDS`; 0 when unknown or in the future (a clock ahead of ours: counted as a change now)."""
    if watched.signature is None or watched.own is None:
        return 0.0
    newest = max((mtime for _, mtime in watched.signature.values()), default=watched.own[1])
    newest = max(newest, watched.own[1])
    return min(DORMANT_SECONDS, max(0.0, time.time() - newest / 1e9))


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
        self.every: dict[str, None] = {}  # directories scanned every scan (something changed in them lately)
        self.due: dict[int, dict[str, None]] = {}  # scan number → quiet and dormant directories due in it
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
                watched = self.dirs[key] = _listing(key, {}, self.dirs)
                since = self.clock() - _unchanged_for(watched)
                phase = zlib.crc32(key.encode(errors="surrogateescape"))
                self.pace[key] = _Pace(since, phase, key.count(os.sep))
                self.every[key] = None  # its first scan decides how often it is scanned

    def discard(self, directory: Path) -> None:
        key = str(directory)
        with self.lock:
            self.dirs.pop(key, None)
            pace = self.pace.pop(key, None)
            self.every.pop(key, None)
            if pace is not None and pace.due >= 0:
                self.due.get(pace.due, {}).pop(key, None)

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
        """One pass over the watched directories due in it; returns how many events it queued."""
        now = self.clock()
        with self.lock:
            self.scans += 1
            known = dict(self.dirs)
            todo = [(key, known[key], self.pace[key], relist) for key, relist in self._plan(now)]
        todo.sort(key=lambda item: -item[2].depth)  # subfolders first: their parents reuse their stats
        stats: Stats = {}
        done = [(key, old, pace, _rescan(key, old, relist, stats, known)) for key, old, pace, relist in todo]
        events: list[str] = []
        with self.lock:
            for key, old, pace, new in done:
                if self.pace.get(key) is not pace or self.dirs.get(key) is not old:
                    continue  # discarded (or discarded and added again) meanwhile
                changed = new.signature != old.signature
                if changed:
                    pace.changed_at, pace.quiet_scans = now, 0
                    self.every[key] = None
                elif key not in self.every:  # a quiet or dormant directory: its next scan
                    self._schedule(key, pace, now, self.scans + 1)
                if new is not old:
                    self.dirs[key] = new
                    events.extend(os.path.join(key, name) if name else key
                                  for name in _changed(old.signature, new.signature))  # fmt: skip
        for path in events:
            self.events.put(FsEvent(path))
        return len(events)

    def _plan(self, now: float) -> list[tuple[str, bool]]:
        """The directories to scan in this scan and whether to list each again (under the lock)."""
        scan = self.scans
        out = []
        for key in list(self.every):
            pace = self.pace[key]
            if now - pace.changed_at < QUIET_SECONDS:
                out.append((key, (scan + pace.phase) % RELIST_EVERY == 0))
                continue
            del self.every[key]  # quiet now: its first quiet scan within QUIET_EVERY (or DORMANT_EVERY), staggered
            self._schedule(key, pace, now, scan)  # this very scan, maybe
        for key in self.due.pop(scan, {}):
            out.append((key, self._quiet_scan(self.pace[key])))
        return out

    def _quiet_scan(self, pace: _Pace) -> bool:
        """A quiet or dormant directory is scanned now; whether to list it again."""
        pace.due = -1
        pace.quiet_scans += 1
        return (pace.quiet_scans + pace.phase) % RELIST_EVERY == 0

    def _schedule(self, key: str, pace: _Pace, now: float, first: int) -> None:
        """Put a quiet or dormant directory in the first scan from ``first`` on that its phase gives it."""
        every = DORMANT_EVERY if now - pace.changed_at >= DORMANT_SECONDS else QUIET_EVERY
        pace.due = first + (pace.phase - first) % every
        self.due.setdefault(pace.due, {})[key] = None
