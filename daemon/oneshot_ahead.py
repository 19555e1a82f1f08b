"""What a read-ahead worker does for one run of a one-shot scan, and the reader that hands its read to the scan.

For a run the scan will reach later, a worker (:mod:`rankinv.daemon.readahead`) makes the calls the scan would make
for it, in the same order: the fingerprint check (:meth:`~rankinv.daemon.unchanged.Seen.check`), then, for a run that
must be read, its inspection, then, for a run the store does not know, the first read of each primary log from its
start. The scan uses each answer in place of its own call when it was asked the same question (the same twins and
stdout files; a log with no stored offset, read from the start); anything else it asks itself. Large logs are left
to the scan: memory holds at most ``READ_BYTES`` of logs read ahead per worker.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rankinv.daemon.pipeline.ingest import Ingestor, Rows
from rankinv.daemon.pipeline.layout import Layout
from rankinv.daemon.unchanged import Seen

from rankinv.discovery import RunInfo
from rankinv.ingest import START, Offset, Reader, Source
from rankinv.ingest.primary import primary_source
from rankinv.metrics import MetricPoint
from rankinv.store import Store

READ_FILE_BYTES = 1 << 20  # a larger log is read by the scan itself
READ_BYTES = 16 << 20  # logs read ahead by one worker in all

Read = tuple[list[MetricPoint], Offset]
Inspect = Callable[[Path, str, list[Path], list[Path]], RunInfo]


@dataclass(frozen=True)
class Ahead:
    """A worker's answers for one run: the fingerprint check's, and (unless the run is unchanged) the inspection's
    with the folders it was given, and the first reads of its logs by path."""

    folder: str | None
    extra: list[Path] = field(default_factory=list)
    twins: list[Path] = field(default_factory=list)
    info: RunInfo | None = None
    reads: dict[str, Read] = field(default_factory=dict)


class Worker:
    """The read-ahead of one run (called in a forked worker; ``known``: logs the store held offsets for)."""

    def __init__(self, layout: Layout, seen: Seen, inspect: Inspect, known: set[str]):
        self.layout, self.seen, self.inspect, self.known = layout, seen, inspect, known
        self.budget = READ_BYTES

    def __call__(self, run_dir: Path) -> Ahead:
        name = self.layout.runs[run_dir]
        extra = self.layout.logs_of(run_dir)
        folder = self.seen.check(name, run_dir, extra, self.layout.twins_of(run_dir))
        if folder is None or not run_dir.exists():
            return Ahead(folder)
        twins = [t for t in self.layout.twins_of(run_dir) if t.is_dir()]
        info = self.inspect(run_dir, name, extra, twins)
        reads = {} if name in self.seen.records else self._first_reads(name, info)
        return Ahead(folder, extra, twins, info, reads)

    def _first_reads(self, run: str, info: RunInfo) -> dict[str, Read]:
        reads: dict[str, Read] = {}
        for source in primary_source(list(info.sources)):
            key = str(source.path)
            try:
                st = os.stat(source.path)
            except OSError:
                continue
            if key in self.known or not stat.S_ISREG(st.st_mode) or st.st_size > min(READ_FILE_BYTES, self.budget):
                continue
            self.budget -= st.st_size
            try:
                reads[key] = source.open(run).read_new(START)
            except Exception:
                continue  # the scan reads it itself and meets the error there
        return reads


class AheadIngestor(Ingestor):
    """The daemon's ingestor, whose first read of a log from its start is the worker's when one read it."""

    def __init__(self, store: Store, max_runs: int = 256, stored: Callable[[str, Rows], None] | None = None):
        super().__init__(store, max_runs, stored)
        self.ahead: dict[str, Read] = {}  # log path → the worker's read of it from the start

    def _reader(self, run: str, source: Source) -> Reader:
        got = self.ahead.pop(str(source.path), None)
        if got is None:
            return super()._reader(run, source)
        return _ReadOnce(got, partial(Ingestor._reader, self, run, source))  # type: ignore[return-value]


class _ReadOnce:
    """A worker's read from the start, given once to a caller reading from the start; else the real reader."""

    def __init__(self, read: Read, reader: Callable[[], Reader]):
        self.read: Read | None = read
        self.reader = reader

    def read_new(self, offset: Offset | None = None) -> Read:
        if (offset or START) == START and self.read is not None:
            got, self.read = self.read, None
            return got
        return self.reader().read_new(offset)
