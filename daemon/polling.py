"""The stat-polling watcher for filesystems inotify cannot see (NFS, Lustre, GPFS, CIFS, FUSE).

Every ``interval`` seconds it lists each watched directory once (one ``scandir`` plus a ``stat`` per entry)
and reports entries whose size or mtime changed, appeared or vanished. Cost is proportional to the number of
watched entries, never to file sizes; the thread sleeps on an Event between scans, so ``stop`` is immediate.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from rankinv.daemon.fswatch import POLLING, EventQueue, FsEvent

log = logging.getLogger("rankinv.daemon")
Signature = dict[str, tuple[int, int]]


def _signature(directory: str) -> Signature | None:
    """name → (size, mtime_ns) of every entry; None when the directory is gone or unreadable."""
    out: Signature = {}
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                out[entry.name] = (st.st_size, st.st_mtime_ns)
    except OSError:
        return None
    return out


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
        self.dirs: dict[str, Signature | None] = {}
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
                self.dirs[key] = _signature(key)

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
            keys = list(self.dirs)
        queued = 0
        for key in keys:
            new = _signature(key)
            with self.lock:
                if key not in self.dirs:
                    continue
                old, self.dirs[key] = self.dirs[key], new
            for name in _changed(old, new):
                self.events.put(FsEvent(os.path.join(key, name) if name else key))
                queued += 1
        return queued
