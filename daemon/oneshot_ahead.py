"""What a read-ahead worker does for one run of a one-shot scan, and the reader that hands its read to the scan.

For a run the scan will reach later, a worker (:mod:`rankinv.daemon.readahead`) makes the calls the scan would make
for it, in the same order: the fingerprint check (:meth:`~rankinv.daemon.unchanged.Seen.check`), then, for a run that
must be read, its inspection, then, for a run the store does not know, the first read of each primary log from its
start, and for a GRPO run whose logs were all read so, its live monitor fed those points. The scan uses each answer in
place of its own call when it was asked the same question (the same twins and stdout files; a log with no stored
offset, read from the start; a monitor fed exactly the points it was: :class:`Analysed`); anything else it asks
itself. Large logs are left to the scan: memory holds at most ``READ_BYTES`` of logs read ahead per worker.
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
from rankinv.daemon.pipeline.live import LiveMonitor
from rankinv.daemon.unchanged import Seen

from rankinv.config import MonitorConfig
from rankinv.discovery import RunInfo
from rankinv.ingest import START, Offset, Reader, Source
from rankinv.ingest.primary import primary_source
from rankinv.metrics import MetricPoint
from rankinv.monitor import MonitorResult, RunSeries
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
    monitor: Monitored | None = None


@dataclass(frozen=True)
class Monitored:
    """A new run's live monitor as the worker left it, fed ``fed`` (each log's rows, in the scan's order)."""

    fed: list[Rows]
    series: RunSeries
    result: MonitorResult
    points: int


class Worker:
    """The read-ahead of one run (called in a forked worker; ``known``: logs the store held offsets for)."""

    def __init__(self, layout: Layout, seen: Seen, inspect: Inspect, known: set[str], *, monitor: MonitorConfig,
                 names: tuple[str, str, str]):  # fmt: skip
        self.layout, self.seen, self.inspect, self.known = layout, seen, inspect, known
        self.config, self.names = monitor, names
        self.budget = READ_BYTES

    def __call__(self, run_dir: Path) -> Ahead:
        name = self.layout.runs[run_dir]
        extra = self.layout.logs_of(run_dir)
        folder = self.seen.check(name, run_dir, extra, self.layout.twins_of(run_dir))
        if folder is None or not run_dir.exists():
            return Ahead(folder)
        twins = [t for t in self.layout.twins_of(run_dir) if t.is_dir()]
        info = self.inspect(run_dir, name, extra, twins)
        if name in self.seen.records:
            return Ahead(folder, extra, twins, info)
        reads = self._first_reads(name, info)
        return Ahead(folder, extra, twins, info, reads, self._monitored(info, reads))

    def _monitored(self, info: RunInfo, reads: dict[str, Read]) -> Monitored | None:
        """The live monitor the scan's brain follows a new GRPO run with, fed as the scan's write will feed it (each
        log's rows that changed something, in the order read); None when a log was left to the scan."""
        primary = [str(s.path) for s in primary_source(list(info.sources))]
        if info.kind.upper() != "GRPO" or any(key not in reads for key in primary):
            return None
        fed = [rows for rows in (_rows(reads[key][0]) for key in primary) if rows]
        live = LiveMonitor(self.config, *self.names)
        if not all(live.feed(rows) for rows in fed):
            return None  # not an append at the end: the brain builds this one from the store
        return Monitored(fed, live.series(), live.result(), live.points)

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


class Analysed(LiveMonitor):
    """A new run's live monitor that a worker fed already: while the scan feeds it exactly what the worker fed, it
    answers with the worker's series and result; fed anything else, it becomes the live monitor fed all of it (built
    only then)."""

    def __init__(self, config: MonitorConfig, names: tuple[str, str, str], done: Monitored):
        self.args, self.done = (config, *names), done
        self.given: list[Rows] = []
        self.own = False  # fed something else: a LiveMonitor of its own from then on

    def feed(self, rows: list[tuple[int, str, float, float | None]]) -> bool:
        if self.own:
            return super().feed(rows)
        self.given.append(rows)
        if len(self.given) <= len(self.done.fed) and rows == self.done.fed[len(self.given) - 1]:
            return True
        return self._own()

    def _own(self) -> bool:
        self.own = True
        LiveMonitor.__init__(self, *self.args)
        return all(super(Analysed, self).feed(rows) for rows in self.given)

    def _same(self) -> bool:
        """Fed all the worker fed and nothing else (else from now on its own monitor)."""
        if not self.own and len(self.given) != len(self.done.fed):
            self._own()
        return not self.own

    @property
    def points(self) -> int:
        if self.own:
            return super().points
        return self.done.points if len(self.given) == len(self.done.fed) else 0

    def series(self) -> RunSeries:
        return self.done.series if self._same() else super().series()

    def result(self) -> MonitorResult:
        return self.done.result if self._same() else super().result()


def _rows(points: list[MetricPoint]) -> Rows:
    return [(p.step, p.name, p.value, p.time) for p in points]  # as the ingestor queues them


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
