"""Incremental ingestion of one run's log, resuming from the offset stored with the points.

Points and the new offset are written in one transaction (``Store.ingest``), so a crash at any moment
either keeps both or neither: after a restart nothing is read twice and nothing is skipped. The chosen source
of a run is cached per run in a bounded LRU; the offsets themselves always come from the store.

A run often has several logs of the same numbers (the callback's JSONL, stdout, trainer_state.json,
TensorBoard). The store keeps one value per (run, metric, step), so mixing them would let whichever file
changed last decide a value (stdout rounds to four digits). One source per run is read, the one
:func:`rankinv.ingest.primary.primary_source` picks (``rankinv explain`` reads the same one). A log whose optional
reader is not installed is reported once and skipped, so the run is read from its other logs; a log rounded to
three decimals or fewer (verl ≤ 0.4's console) is noted once; records a reader skipped because their step cannot
be one (:mod:`rankinv.ingest.notes`) are noted once per file and cause.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from rankinv.ingest import START, Offset, Points, Reader, Source
from rankinv.ingest import sources_for_run as _all_sources
from rankinv.ingest.kept import kept_files
from rankinv.ingest.primary import primary_source, unreadable
from rankinv.ingest.rounding import MAX_DECIMALS, _decimals, rounding_note
from rankinv.store import Store
from rankinv.store.binding import bound

log = logging.getLogger("rankinv.daemon")


def sources_for_run(run_dir: Path, extra_logs: list[Path] | tuple[Path, ...] = ()) -> list[Source]:
    return primary_source(_all_sources(run_dir, extra_logs))


Rows = list[tuple[int, str, float, float | None]]
PENDING_POINTS = 100_000
"""Points queued in a batch before they are written early (a long read in parts is written as it goes)."""


class Ingestor:
    def __init__(self, store: Store, max_runs: int = 256, stored: Callable[[str, Rows], None] | None = None,
                 followed: Collection[str] | None = None):  # fmt: skip
        """``stored(run, rows)`` is told of every batch of points written (the live monitors follow them), with
        the rows of the metrics ``followed`` only when given (picked from the reader's columns)."""
        self.store = store
        self.stored = stored
        self.followed = followed
        self.offsets: dict[str, Offset] = {}  # path -> offset as last written (the daemon is the store's one writer)
        self.readers: dict[tuple[str, Source], Reader] = {}  # readers keep no state between reads: opened once
        self.max_runs = max_runs
        self.sources: OrderedDict[str, list[Source]] = OrderedDict()
        self.reported: set[str] = set()
        self.deferring = False
        self.pending: dict[str, tuple[str, str, Offset, Points]] = {}  # path -> (run, format, new offset, points)
        self.pending_points = 0  # points in ``pending``

    def refresh(self, run: str, run_dir: Path, extra_logs: list[Path] | tuple[Path, ...] = (),
                listed: tuple[Source, ...] | None = None) -> list[Source]:  # fmt: skip
        """Re-list the run's logs (after a structural change: a new file or folder); ``extra_logs``: stdout files
        elsewhere attributed to the run; ``listed``: the run's logs just listed by discovery (not listed again)."""
        every = list(listed) if listed is not None else _all_sources(run_dir, extra_logs)
        self._report_unreadable(run, every)
        found = primary_source(every)
        self.sources[run] = found
        self.sources.move_to_end(run)
        while len(self.sources) > self.max_runs:
            self.sources.popitem(last=False)
        return found

    def _report_unreadable(self, run: str, sources: list[Source]) -> None:
        for source, why in unreadable(sources):
            key = f"{run}\0{source.path}"
            if key not in self.reported:
                self.reported.add(key)
                message = f"{source.path.name} not read ({why}); reading the run's other logs"
                log.warning("run %s: %s", run, message)
                self.store.add_event("warning", "ingest", message, run)

    def _note_rounding(self, run: str, source: Source, points: Points) -> None:
        key = f"{run}\0rounding"
        if key in self.reported:
            return
        if any(math.isfinite(v) and _decimals(v) > MAX_DECIMALS for v in points.values()):
            self.reported.add(key)  # a value printed with more decimals: this log does not round (never asked again)
            return
        note = rounding_note(points, source.path.name)
        if note is not None:
            self.reported.add(key)
            log.warning("run %s: %s", run, note)
            self.store.add_event("warning", "ingest", note, run)

    def _note_missing(self, run: str, source: Source, points: Points) -> None:
        """JSON has no NaN: verl's file logger writes one as ``null``, kept as a missing value and said once."""
        key = f"{run}\0missing"
        if source.fmt != "jsonl" or key in self.reported or not any(map(math.isnan, points.values())):
            return
        rows = points.rows()
        missing = sorted({(name, step) for step, name, value, _ in rows if math.isnan(value)}, key=lambda x: x[1])
        if missing:
            self.reported.add(key)
            name, step = missing[0]
            note = (f"{source.path.name}: {len(missing)} value(s) logged as null/NaN kept as missing "
                    f"(first: {name} at step {step})")  # fmt: skip
            log.warning("run %s: %s", run, note)
            self.store.add_event("warning", "ingest", note, run)

    def _note_steps(self, run: str, points: Points) -> None:
        """Records skipped for their step: one warning per file and cause, whatever the number of such lines (a
        note already in the store, from an earlier scan, is not repeated)."""
        for note in points.notes.values():
            key = f"{run}\0{note.key}"
            if key in self.reported:
                continue
            self.reported.add(key)
            if self.store.has_event("ingest", run, f"{note.where.path.name}: ", note.cause_text):
                continue  # said by an earlier scan (asked first: the message counts the lines before the record)
            message = note.message()
            log.warning("run %s: %s", run, message)
            self.store.add_event("warning", "ingest", message, run)

    def source_for(self, run: str, path: Path) -> Source | None:
        """The cached source a changed file is, if it is one (a plain append needs no re-listing)."""
        for source in self.sources.get(run, ()):
            if source.path == path:
                self.sources.move_to_end(run)
                return source
        return None

    def forget(self, run: str) -> None:
        self.sources.pop(run, None)
        self.readers = {k: r for k, r in self.readers.items() if k[0] != run}

    def forget_offsets(self) -> None:
        """Writes were rolled back: read offsets from the store again."""
        self.offsets.clear()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Within this block, :meth:`ingest_source` queues its points and offsets; on leaving, every queued run's are
        written at once (three statements for the lot, inside the caller's transaction), then the monitors follow."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        self.flush()

    def drop_pending(self, run: str | None = None) -> None:
        """A run failed mid-batch: its queued writes are dropped with it (as a savepoint would undo them); None:
        the whole batch failed."""
        self.pending = {k: item for k, item in self.pending.items() if run is not None and item[0] != run}
        self.pending_points = sum(len(item[3]) for item in self.pending.values())

    def flush_if_large(self) -> None:
        """Write the queued points now when there are more than ``PENDING_POINTS`` of them."""
        if self.pending_points > PENDING_POINTS:
            self.flush()

    def flush(self, only: str | None = None) -> None:
        """Write the queued points and offsets (only run ``only``'s when given: inside that run's savepoint, the
        other runs' writes must not be undone with its own)."""
        if only is None:
            items, self.pending = self.pending, {}
        else:
            items = {k: item for k, item in self.pending.items() if item[0] == only}
            self.pending = {k: item for k, item in self.pending.items() if item[0] != only}
        self.pending_points = sum(len(item[3]) for item in self.pending.values())
        if not items:
            return
        self.store.ingest_many([(run, key, fmt, new.to_json(), found) for key, (run, fmt, new, found) in items.items()])
        for key, (run, _, new, found) in items.items():
            self._written(run, key, new, found)

    def _written(self, run: str, key: str, new: Offset, points: Points) -> None:
        if len(self.offsets) >= 4 * self.max_runs:
            self.offsets.clear()
        self.offsets[key] = new
        if self.stored is not None and points:
            self.stored(run, points.rows(self.followed))

    def ingest_run(self, run: str, run_dir: Path, extra_logs: list[Path] | tuple[Path, ...] = ()) -> int:
        cached = self.sources.get(run)
        sources = cached if cached is not None else self.refresh(run, run_dir, extra_logs)
        return sum(self.ingest_source(run, s) for s in sources)

    def _reader(self, run: str, source: Source) -> Reader:
        reader = self.readers.get((run, source))
        if reader is None:
            if len(self.readers) >= 4 * self.max_runs:
                self.readers.clear()
            reader = self.readers[(run, source)] = source.open(run)
        return reader

    def ingest_source(self, run: str, source: Source) -> int:
        """Read what was appended to one source since its stored offset; returns the points written (or queued).

        Inside :func:`rankinv.ingest.kept.keeping` with a read limit, a long read (a first read of a 1 GB log) goes
        in parts, each written with its offset before the next is read: memory holds one part's points.
        """
        kept = kept_files()
        written = 0
        while True:
            if kept is not None:
                kept.more = False
            written += self._ingest_part(run, source)
            if kept is None or not kept.more:
                return written
            if self.pending_points > PENDING_POINTS:
                self.flush(run)

    def _ingest_part(self, run: str, source: Source) -> int:
        key = str(source.path)
        queued = self.pending.get(key)
        offset = queued[2] if queued is not None else self.offsets.get(key)
        if offset is None:
            stored = self.store.offset(key)
            offset = Offset.from_json(stored) if stored else START
        points, new = self._reader(run, source).read_new(offset)
        if not points and new == offset:
            return 0
        self._note_rounding(run, source, points)
        self._note_missing(run, source, points)
        if points.notes:
            self._note_steps(run, points)
        if self.deferring:
            # as the store will count them (a block's points are all bound: counted without binding them twice)
            written = len(points) if points.only_columns() else bound(0, points).size
            self.pending_points += len(points)
            if queued is not None:
                queued[3].absorb(points)  # the same log read again in one batch: written as one read
                points = queued[3]
            self.pending[key] = (run, source.fmt, new, points)
            return written
        written = self.store.ingest(run, key, source.fmt, new.to_json(), points)  # bound from the columns
        self._written(run, key, new, points)
        return written
