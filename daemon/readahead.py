"""Work done ahead by forked workers, each item claimed once: by a worker, or by the caller that needs it first.

A one-shot scan of thousands of new runs spends a third of its time on work that only reads the disk (a run's
fingerprint, its inspection, the first read of its logs), one run after another on one core. :class:`ReadAhead`
forks workers that do that part for the scan's items, from the last item backwards, and send each result through a
pipe of their own; the scan (the store's one writer) asks :meth:`ReadAhead.take` for an item as it reaches it and
gets the worker's result, or None when it should do the item itself. A claim is a byte per item in memory shared
with the workers, set under a lock, so no item is done twice and the caller waits only for an item a worker is on.

A worker sends None for an item it failed on (the caller then does it itself and meets the error in its own
place), never touches the caller's store or output, and leaves with ``os._exit`` (no cleanup of state it shares
with the caller, such as an open SQLite connection). A worker that dies leaves its items to the caller.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import mmap
import multiprocessing
import os
import pickle
import select
import struct
from collections.abc import Callable, Hashable, Sequence
from typing import Any

FREE, CALLER = 0, 1  # a claim byte; a worker's claims are 2 + its index
_HEADER = struct.Struct("<IQ")  # item index, pickled length
_PIPE_BYTES = 1 << 20  # results a worker may have in flight before the caller reads them
_READ_BYTES = 64 << 10  # read at a time (a larger buffer costs its allocation on every read)
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def idle_cores() -> int:
    """CPUs this process may run on that no task is running or waiting for now, beside its own."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, cores - _runnable()))


def _runnable() -> int:
    """Tasks running or waiting for a CPU now, this one included (Linux's count in ``/proc/loadavg``; elsewhere the
    1-minute load average, rounded up, and this one)."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        try:
            return math.ceil(os.getloadavg()[0]) + 1
        except OSError:
            return 1 << 30  # unknown: none idle


class ReadAhead:
    """``compute(item)`` done ahead in ``workers`` forked processes (see the module docstring)."""

    def __init__(self, items: Sequence[Hashable], compute: Callable[[Any], object], workers: int):
        self.index = {item: i for i, item in enumerate(items)}
        self.claims = mmap.mmap(-1, max(1, len(items)))
        self.lock = multiprocessing.get_context("fork").Lock()
        self.results: dict[int, object] = {}
        self.pipes: dict[int, tuple[int, bytearray]] = {}  # worker → (read end, bytes not yet decoded)
        self.pids: list[int] = []
        self.taken = 0  # items whose result came from a worker
        for w in range(workers):
            self._fork(w, list(items), compute)

    def _fork(self, w: int, items: list[Any], compute: Callable[[Any], object]) -> None:
        read, write = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(write, _F_SETPIPE_SZ, _PIPE_BYTES)
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the caller's code
            code = 1
            try:
                os.close(read)
                for other, _ in self.pipes.values():
                    os.close(other)
                self._work(2 + w, write, items, compute)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        os.set_blocking(read, False)
        self.pipes[w] = (read, bytearray())
        self.pids.append(pid)

    def _work(self, mine: int, write: int, items: list[Any], compute: Callable[[Any], object]) -> None:
        for j in range(len(items) - 1, -1, -1):
            with self.lock:
                claim = self.claims[j]
                if claim == FREE:
                    self.claims[j] = mine
            if claim != FREE:
                continue  # the caller's or another worker's
            try:
                result: object = compute(items[j])
                data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                data = pickle.dumps(None)
            _write_all(write, _HEADER.pack(j, len(data)) + data)

    def take(self, item: Hashable) -> Any:
        """A worker's result for ``item``, or None: the caller does it (claimed now, so no worker will)."""
        j = self.index.get(item)
        if j is None:
            return None
        self._drain(block=False)
        with self.lock:
            claim = self.claims[j]
            if claim == FREE:
                self.claims[j] = CALLER
        if claim in (FREE, CALLER):
            return None
        while j not in self.results and claim - 2 in self.pipes:
            self._drain(block=True)
        result = self.results.pop(j, None)
        self.taken += result is not None
        return result

    def _drain(self, *, block: bool) -> None:
        """Decode whatever the workers have sent (waiting for some when ``block``); a closed pipe is dropped."""
        fds = {fd: w for w, (fd, _) in self.pipes.items()}
        if not fds:
            return
        ready, _, _ = select.select(list(fds), [], [], None if block else 0)
        for fd in ready:
            w = fds[fd]
            buf = self.pipes[w][1]
            try:
                chunk = os.read(fd, _READ_BYTES)
            except BlockingIOError:
                continue
            if not chunk:
                os.close(fd)
                del self.pipes[w]
                continue
            buf += chunk
            self._decode(buf)

    def _decode(self, buf: bytearray) -> None:
        start, view = 0, memoryview(buf)
        while len(buf) - start >= _HEADER.size:
            j, size = _HEADER.unpack_from(buf, start)
            end = start + _HEADER.size + size
            if len(buf) < end:
                break
            self.results[j] = pickle.loads(view[start + _HEADER.size:end])
            start = end
        view.release()
        del buf[:start]  # once per read, not per result

    def close(self) -> None:
        """Stop the workers (each after its item in hand), read what they still send, and reap them."""
        with self.lock:
            for j in range(len(self.index)):
                if self.claims[j] == FREE:
                    self.claims[j] = CALLER
        while self.pipes:
            self._drain(block=True)
        self.results.clear()
        for pid in self.pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.pids.clear()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
