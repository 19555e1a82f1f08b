"""One pass over a runs root without a daemon: discover, ingest, read callback triage reports, judge.

``rankinv status`` uses it when no daemon runs, so the command always answers. It writes to the same store
(offsets included) a daemon would, under the daemon's lock, so a daemon started later resumes from it. It
never acts on a verdict and never starts triage jobs. A run whose folder did not change since the last pass
is not read again (:mod:`rankinv.daemon.unchanged`).

Being the store's one writer for one pass, it skips work whose answer it already has, leaving the store exactly
as the daemon's pass would (tested against the daemon's store): the records and the logs' offsets are read once as
it starts (a log without one is read from its start, not looked up again), nothing is listed for a watcher, a
log's last step is peeked only when its read wrote no point, and a run new to the store gets its live monitor fed
with the points as they are queued instead of reading them back to judge it.

With many runs new to the store (a cold store: the first ``rankinv status`` on a root) and more than one core, forked
workers read, record and judge those runs, each into a store file of its own that this scan then copies into the
store (:mod:`rankinv.daemon.scanpool`); the store ends as this scan alone leaves it (tested).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankinv.daemon.lock import AlreadyRunning, DaemonLock
from rankinv.daemon.pipeline.brain import LIVE_POINTS
from rankinv.daemon.pipeline.health import Health
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.pipeline.triage import TriageStage
from rankinv.daemon.serve import Plan
from rankinv.daemon.unchanged import FILE_NAME, Seen

from rankinv.boundary.listing import listed_once
from rankinv.discovery import RunInfo
from rankinv.ingest import START
from rankinv.ingest.peek import last_logged_step
from rankinv.ingest.primary import unreadable
from rankinv.store import RunRecord, Store

if TYPE_CHECKING:
    from rankinv.daemon.scanpool import ScanPool


log = logging.getLogger("rankinv.daemon")


class _NoWatch:
    def add(self, directory: Path) -> None:
        """Nothing watches during a one-shot scan."""

    def discard(self, directory: Path) -> None:
        """Nothing watches during a one-shot scan."""


class OneShot(Pipeline):
    """The daemon's pipeline, leaving unread the runs :class:`Seen` vouches for (``seen`` None: reads all)."""

    seen: Seen | None = None
    unreadable_logs = False  # whether the run just inspected has a log whose optional reader is missing here
    read_points: set[str]  # runs whose read in this scan wrote points
    pool: ScanPool | None = None  # the workers reading new runs alongside this scan, when there are many

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.read_points = set()
        self.followed = 0  # points queued for the live monitors started by :meth:`_follow`
        self.known: set[str] = set()  # logs the store held an offset for as the scan started

    def rescan(self) -> set[Path]:
        """As the daemon's, and a run the store holds that is no longer found is marked vanished (a one-shot scan
        starts with no layout to compare against)."""
        added = super().rescan()
        found = set(self.layout.runs.values())
        for record in self.store.runs() if self.seen is None else tuple(self.seen.records.values()):
            if record.name not in found and record.status != "vanished":
                self._vanished(Path(record.path), record.name)
        self.known = set(self.store.offsets())
        return added

    def watch_run(self, run_dir: Path, twins: list[Path]) -> None:
        """Nothing watches during a one-shot scan (its folders are not even listed for a watcher)."""

    def recorded(self, name: str) -> RunRecord | None:
        """From the records read once when the scan started (each run is inspected once per scan, and only this
        process writes the store while it holds the lock)."""
        if self.seen is None:
            return super().recorded(name)
        return self.seen.records.get(name)

    def inspect(self, run_dir: Path, name: str, extra: list[Path], twins: list[Path], *,
                peek_logs: bool = False) -> RunInfo:  # fmt: skip
        """Without the look at the logs' last step: :meth:`ingest` takes it only when the read wrote nothing."""
        info = super().inspect(run_dir, name, extra, twins, peek_logs=peek_logs)
        self.unreadable_logs = bool(unreadable(list(info.sources)))
        if self.seen is not None:
            for source in info.sources:  # a log with no stored offset is read from its start: not looked up again
                if str(source.path) not in self.known:
                    self.ingestor.offsets.setdefault(str(source.path), START)
        return info

    def ingest(self, info: RunInfo, extra: list[Path]) -> int:
        """As the daemon's; the run's stored step is then what the full inspection would leave: the last point
        read sets it (the store's rule), and when no point was read, the highest of the checkpoints', the trainer
        state's and the logs' last step (the look the inspection left out, taken only now)."""
        written = super().ingest(info, extra)
        if written:
            self.read_points.add(info.name)
            self._follow(info.name, written)
        else:
            logged = last_logged_step(list(info.sources))
            if logged is not None and (info.last_step is None or logged > info.last_step):
                self.store.upsert_run(info.name, str(info.path), last_step=logged)
        return written

    def _follow(self, run: str, queued: int) -> None:
        """A run new to the store holds no point but the ones just queued: its live monitor starts empty and is fed
        them as they are written (as the brain follows a run it knows), so judging it reads nothing back from the
        store. Equal to one built from the store (the live monitor's contract; one that does not extend its series
        is dropped and built from the store). Bounded by the brain's budget of monitored points."""
        if self.seen is None or run in self.seen.records or run in self.brain.live or not self.ingestor.deferring:
            return
        if self.followed + queued > LIVE_POINTS:
            return
        self.followed += queued
        self.brain.follow_new(run)

    def has_points(self, run: str) -> bool:
        """A run whose read wrote points in this scan has some (the batch's commit holds them by now)."""
        return run in self.read_points or super().has_points(run)

    def to_process(self, full: dict[Path, None]) -> Iterable[Path]:
        """With many runs new to the store (at least :data:`scanpool.CUTOVER`) and more than one core: those are
        shared with forked workers (:mod:`rankinv.daemon.scanpool`), the rest read here as before."""
        if self.seen is None or self.pool is not None or not hasattr(os, "fork"):
            return full
        new = sorted(d for d in full if self.layout.runs[d] not in self.seen.records)
        from rankinv.daemon import scanpool

        count = scanpool.processes(self.config)
        if count < 2 or len(new) < scanpool.CUTOVER or threading.active_count() > 1:
            return full  # a fork with other threads running could copy a lock one of them holds
        try:
            self.pool = scanpool.ScanPool(self, new, count, self.seen.path.parent)
        except OSError as exc:  # no folder or pipe for the workers: the scan reads every run itself
            log.warning("one-shot scan without workers: %s", exc)
            return full
        handed = set(new)
        return itertools.chain((d for d in full if d not in handed), self.pool.scan_runs())

    def processed_elsewhere(self, touched: set[Path]) -> None:
        if self.pool is not None:
            self.pool.merge(touched)

    def process_run(self, run_dir: Path) -> None:
        if self.seen is None:
            super().process_run(run_dir)
            return
        name = self.layout.runs[run_dir]
        folder = self.seen.unchanged(name, run_dir, self.layout.logs_of(run_dir), self.layout.twins_of(run_dir))
        if folder is None:
            self.unchanged.add(run_dir)  # as the full path finds it: re-inspected, the same record
            return
        self.unreadable_logs = True  # until the inspection says otherwise
        super().process_run(run_dir)
        logs = [str(s.path) for s in self.ingestor.sources.get(name, ())]
        self.seen.inspected(name, folder, logs, clean=not self.unreadable_logs)


def scan_once(p: Plan) -> bool:
    """Bring the store up to date; False when a daemon took the lock meanwhile (it keeps the store current)."""
    lock = DaemonLock(p.state_dir)
    try:
        lock.acquire()
    except AlreadyRunning:
        return False
    try:
        config = dataclasses.replace(p.config, daemon=dataclasses.replace(p.config.daemon, triage_executor="callback"))
        with Store.open(p.store_path) as store:
            triage = TriageStage(store, config, p.state_dir, p.config_path)
            pipeline = OneShot(p.root, config, store, triage=triage, health=Health(store, 60.0), dirs=_NoWatch(),
                               actions=None)  # fmt: skip
            pipeline.seen = Seen(p.state_dir / FILE_NAME, config, store)
            try:
                with listed_once():  # the walk's listing of a run folder serves its fingerprint and inspection
                    pipeline.handle(set(), rescan=True)
            finally:
                if pipeline.pool is not None:
                    pipeline.pool.close()
            pipeline.seen.save()
            # the brain and its history refer to each other, so without this its live monitors (300,000 objects at
            # 10,000 runs) would wait for the cyclic collector as the process exits: 0.3 s of CPU
            pipeline.brain.forget()
    finally:
        lock.release()
    return True
