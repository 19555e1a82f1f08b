"""File events from a runs root, inotify where it works and stat-polling where it cannot.

Both watchers watch an explicit set of directories, each non-recursively: the service adds the root, the
folders on the way to runs, each run directory and the checkpoints still being written. Nothing descends
into a checkpoint's shard tree. Watcher threads only put :class:`FsEvent` on a queue; the service blocks on
that queue, so an idle daemon sleeps.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rankinv.daemon.mounts import Mount, mount_of

if TYPE_CHECKING:
    from watchdog.observers.inotify_c import CallbackId, InotifyEvent, InotifyFD, Mask, WatchDescriptor

log = logging.getLogger("rankinv.daemon")
INOTIFY = "inotify"
POLLING = "polling"
LIMIT_ERRNOS = (errno.ENOSPC, errno.EMFILE, errno.ENFILE)
GATHER_SECONDS = 0.02
"""The inotify reader sleeps this long between reads, so a busy root's events are read and handled a burst at a
time (at 500 logs appended each second: ten per read instead of one), a small part of the loop's debounce."""


@dataclass(frozen=True)
class FsEvent:
    """Something changed at ``path`` (a file or directory); ``kind`` is ``change``, ``overflow`` or ``wake``."""

    path: str
    kind: str = "change"


EventQueue = queue.SimpleQueue[FsEvent]


class Watcher(Protocol):
    mode: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def add(self, directory: Path) -> None: ...

    def discard(self, directory: Path) -> None: ...

    def watched(self) -> int: ...


class InotifyLimit(OSError):
    """The kernel refused another inotify watch or instance (``fs.inotify.max_user_watches`` and friends)."""


def choose_mode(root: Path, requested: str, table: list[Mount] | None = None) -> tuple[str, str]:
    """The watch mode for ``root`` and why, from the config (auto, inotify, polling) and the mount table."""
    if requested == POLLING:
        return POLLING, 'polling forced (--poll or [daemon] watch = "polling")'
    mount = mount_of(root, table)
    if requested == INOTIFY:
        return INOTIFY, "inotify forced by [daemon] watch"
    if mount is not None and mount.is_network:
        return POLLING, f"{root} is on {mount.fstype} (mounted at {mount.point}): inotify cannot see remote writes"
    return INOTIFY, f"{root} is on {mount.fstype if mount else 'a local filesystem'}"


def make_watcher(mode: str, events: EventQueue, poll_interval: float) -> Watcher:
    if mode == INOTIFY:
        return InotifyWatcher(events)
    from rankinv.daemon.polling import PollWatcher

    watcher: Watcher = PollWatcher(events, poll_interval)
    return watcher


class InotifyWatcher:
    """One inotify descriptor (watchdog's ``InotifyFD``: one reader thread) with one watch per directory.

    watchdog's Observer starts a thread per watched directory; a root with a thousand runs would mean
    thousands of threads, so the daemon uses watchdog's inotify layer directly.
    """

    mode = INOTIFY

    def __init__(self, events: EventQueue):
        self.events = events
        self.fd: InotifyFD | None = None
        self.wds: dict[str, tuple[WatchDescriptor, CallbackId]] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def start(self) -> None:
        try:
            fd = _gathering_fd()
        except OSError as exc:
            raise InotifyLimit(exc.errno, f"cannot create an inotify instance: {exc.strerror}") from None
        fd.name = "rankinv-inotify"
        fd.start()
        self.fd = fd

    def add(self, directory: Path) -> None:
        key = str(directory)
        with self.lock:
            if key in self.wds or self.fd is None:
                return
        from watchdog.observers.inotify_c import CallbackId

        callback_id = CallbackId(next(self.ids))
        try:
            wd = self.fd.add_callback(os.fsencode(key), _mask(), _Callback(self.events, key, self._forget), callback_id)
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno in LIMIT_ERRNOS:
                raise InotifyLimit(exc.errno, f"inotify limit reached at {key}: {exc.strerror}") from None
            if exc.errno in (errno.ENOTDIR, errno.EACCES):
                log.warning("cannot watch %s: %s", key, exc.strerror)
                return
            raise
        with self.lock:
            self.wds[key] = (wd, callback_id)

    def discard(self, directory: Path) -> None:
        key = str(directory)
        with self.lock:
            watch = self.wds.pop(key, None)
        if watch is not None and self.fd is not None:
            self.fd.remove_callbacks([watch])

    def watched(self) -> int:
        with self.lock:
            return len(self.wds)

    def _forget(self, directory: str) -> None:
        """The kernel dropped the watch (directory deleted or moved): a re-created one must be watched anew."""
        with self.lock:
            self.wds.pop(directory, None)

    def stop(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            fd.stop()
            fd.join(timeout=10)
        with self.lock:
            self.wds.clear()


def _gathering_fd() -> InotifyFD:
    """watchdog's inotify reader, made cheap under a stream of appends: it sleeps ``GATHER_SECONDS`` before each
    read, so one read takes the burst that gathered, and the burst's plain events on one path (an append's
    ``IN_MODIFY`` and ``IN_CLOSE_WRITE``, a log appended twice) are handed on once. The loop makes a set of the
    paths anyway, so nothing it sees changes: overflow and watch-removal events are all kept, in order."""
    from watchdog.observers.inotify_c import InotifyConstants as C
    from watchdog.observers.inotify_c import InotifyFD

    # events that only say a path changed (any of several on one path says it)
    plain = (C.IN_MODIFY | C.IN_ATTRIB | C.IN_CLOSE_WRITE | C.IN_MOVED_FROM | C.IN_MOVED_TO | C.IN_CREATE
             | C.IN_DELETE | C.IN_ISDIR)  # fmt: skip

    class GatheringFD(InotifyFD):
        def read_events(self, *args: int, **kwargs: int) -> list[InotifyEvent]:
            time.sleep(GATHER_SECONDS)
            seen: set[tuple[int, bytes]] = set()
            out = []
            for event in super().read_events(*args, **kwargs):
                if event.mask & plain == event.mask and event.wd >= 0:
                    key = (event.wd, event.name or b"")
                    if key in seen:
                        continue
                    seen.add(key)
                out.append(event)
            return out

    return GatheringFD()


def _mask() -> Mask:
    from watchdog.observers.inotify_c import InotifyConstants as C
    from watchdog.observers.inotify_c import Mask

    return Mask(
        C.IN_CREATE
        | C.IN_MODIFY
        | C.IN_CLOSE_WRITE
        | C.IN_MOVED_TO
        | C.IN_MOVED_FROM
        | C.IN_DELETE
        | C.IN_DELETE_SELF
        | C.IN_MOVE_SELF
        | C.IN_ATTRIB
    )


class _Callback:
    """watchdog's WatchCallback for one directory: every event becomes an FsEvent on the queue."""

    def __init__(self, events: EventQueue, directory: str, forget: Callable[[str], None]):
        self.events, self.directory, self.forget = events, directory, forget

    def on_event(self, event: InotifyEvent) -> None:
        name = os.fsdecode(event.name or b"")
        self.events.put(FsEvent(os.path.join(self.directory, name) if name else self.directory))

    def on_watch_deleted(self, wd: WatchDescriptor) -> None:
        self.forget(self.directory)
        self.events.put(FsEvent(self.directory))

    def on_queue_overflow(self) -> None:
        self.events.put(FsEvent(self.directory, "overflow"))
