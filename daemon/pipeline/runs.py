"""One pass of the pipeline over the runs a batch of file events touched, each run isolated from the others.

``Pipeline.handle(paths)`` maps changed paths to runs: an append to a known log is ingested directly; anything
else (a new file, a checkpoint folder, a vanished directory) re-inspects the run. Then triage, brain and
actions run for what changed. A run that fails (permission denied, a garbage file, a directory that vanished
mid-read) is marked in the store with the message and the rest carry on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Protocol

from rankinv.daemon.pipeline import judged
from rankinv.daemon.pipeline import layout as L
from rankinv.daemon.pipeline.brain import Brain, Judged, Outcome
from rankinv.daemon.pipeline.health import Health
from rankinv.daemon.pipeline.ingest import Ingestor
from rankinv.daemon.pipeline.record import mark, record_run, recorded_as
from rankinv.daemon.pipeline.triage import REPORT_NAME, TriageStage

from rankinv.boundary import listing
from rankinv.boundary.files import confined
from rankinv.config import Config
from rankinv.discovery import CheckpointInfo, RunInfo, inspect_run
from rankinv.ingest.kept import KeptFiles, keeping
from rankinv.store import DatabaseError, RunRecord, Store

log = logging.getLogger("rankinv.daemon")
MAX_SETTLE_BACKOFF = 60.0
OWNERS_KEPT = 65536


class Dirs(Protocol):
    def add(self, directory: Path) -> None: ...

    def discard(self, directory: Path) -> None: ...


class Acts(Protocol):
    def on_outcome(self, outcome: Outcome, run_dir: str) -> None: ...


class Pipeline:
    def __init__(self, root: Path, config: Config, store: Store, *, triage: TriageStage, health: Health,
                 dirs: Dirs, actions: Acts | None):  # fmt: skip
        self.root, self.config, self.store, self.triage, self.health = root, config, store, triage, health
        self.dirs, self.actions = dirs, actions
        self.layout = L.Layout({}, ())
        self.brain = Brain(store, config)
        self.ingestor = Ingestor(store, config.daemon.max_cached_runs, stored=self.brain.stored,
                                 followed=self.brain.names)
        self.settling: dict[Path, tuple[float, float]] = {}  # run dir → (due, interval) while checkpoints settle
        self.watched_checkpoints: set[Path] = set()
        self.evaluated: dict[Path, float] = {}  # run dir → when it was last judged (monotonic)
        self.deferred: dict[Path, float] = {}  # run dir → when its next judgement is due
        self.pass_seconds = 0.0  # how long the last pass took (judgements due before the next one are made now)
        self.unchanged: set[Path] = set()  # runs this pass re-inspected and found as recorded (see judged.py)
        self.owners: tuple[L.Layout, dict[str, tuple[Path, Path | None, bool]]] = (self.layout, {})
        self.kept: KeptFiles | None = None  # logs kept open between reads (the daemon sets it; one-shot scans do not)

    # -- structure ------------------------------------------------------------------------------------------
    def rescan(self) -> set[Path]:
        """Re-list the root: watch new folders and runs, mark vanished ones; returns the new run dirs."""
        new = L.scan(self.root)
        for folder in set(self.layout.folders) - set(new.folders):
            self.dirs.discard(folder)
        for folder in new.folders:
            self.dirs.add(folder)
        for run_dir in set(self.layout.runs) - set(new.runs):
            owner = new.runs.get(new.attached.get(run_dir, run_dir))  # a log of its own that evidence gave a run
            self._vanished(run_dir, self.layout.runs[run_dir], joined=owner)
        added = set(new.runs) - set(self.layout.runs)
        added |= {d for d in new.runs if new.logs_of(d) != self.layout.logs_of(d)}  # a stdout newly attributed
        added |= {d for d in new.runs if new.twins_of(d) != self.layout.twins_of(d)}  # a verl checkpoints folder
        self.layout = new
        return added

    def _vanished(self, run_dir: Path, name: str, joined: str | None = None) -> None:
        """Forget a run no longer found; ``joined``: the run its log now belongs to (it is read there)."""
        for d in [run_dir, *[p for p in self.watched_checkpoints if run_dir in p.parents]]:
            self.dirs.discard(d)
        self.watched_checkpoints = {p for p in self.watched_checkpoints if run_dir not in p.parents}
        self.ingestor.forget(name)
        if self.kept is not None:
            self.kept.prune()
        self.settling.pop(run_dir, None)
        self.evaluated.pop(run_dir, None)
        self.deferred.pop(run_dir, None)
        if self.store.run(name) is None:
            return
        joins = joined is not None
        mark(self.store, name, str(run_dir), "vanished",
             f"{run_dir} now belongs to run {joined}" if joins else f"{run_dir} disappeared")  # fmt: skip
        log.warning("run %s: its log %s now belongs to run %s" if joins else "run %s: directory %s disappeared",
                    name, run_dir, *([joined] if joins else []))  # fmt: skip

    # -- per batch ------------------------------------------------------------------------------------------
    def handle(self, paths: set[str], *, rescan: bool = False, sweep: bool = False) -> int:
        """Process a batch of changed paths; returns how many runs were touched.

        ``rescan`` re-reads the layout and reads every run's logs from their offsets (a periodic safety net for
        missed events); ``sweep`` re-inspects every run (after an inotify queue overflow lost events).
        """
        if rescan and self.kept is not None:
            self.kept.prune()
        started = time.monotonic()
        with confined(self.root, follow_outside=self.config.daemon.follow_symlinks_outside_root), keeping(self.kept):
            touched = self._handle(paths, rescan=rescan, sweep=sweep)
        self.pass_seconds = time.monotonic() - started
        return touched

    def _handle(self, paths: set[str], *, rescan: bool, sweep: bool) -> int:
        full, logs, structural = self._classify(paths)
        if rescan or structural or sweep:
            full.update(dict.fromkeys(self.rescan() | self._gone(), None))
        if sweep:
            full.update(dict.fromkeys(self.layout.runs, None))
        full.update(dict.fromkeys(self._settle_due(), None))
        touched: set[Path] = set()
        with self._batch():  # one commit for the batch's points and offsets; each run undone alone on error
            if rescan:
                for run_dir in set(self.layout.runs) - set(full) - set(logs):
                    self._guard(run_dir, partial(self.catch_up, run_dir, touched), atomic=True)
            with self.ingestor.deferred():  # points and offsets written together, once read (few statements)
                for run_dir in self.to_process(full):
                    if self._guard(run_dir, partial(self.process_run, run_dir), atomic=True):
                        touched.add(run_dir)
                    self.ingestor.flush_if_large()  # between runs (outside their savepoints): memory stays bounded
                for run_dir, files in logs.items():
                    if run_dir not in full and self._guard(run_dir, partial(self.ingest_logs, run_dir, files)):
                        touched.add(run_dir)
        self.processed_elsewhere(touched)
        reports = self._after_triage()
        whole = rescan and set(self.layout.runs) <= set(full)  # every run re-inspected: a full pass
        judged_with = judged.fingerprint(self.config, self.brain.history.key()) if whole else ""
        if whole and not reports and self.store.health().get(judged.KEY) == judged_with:
            current = self.store.judged_current(judged.PIN_REASON)
            touched -= {d for d in self.unchanged if self.layout.runs.get(d) in current}
        self.unchanged.clear()
        outcomes: list[tuple[Outcome, str]] = []
        with self._batch():  # one commit for the batch's monitors, predictions and verdicts
            self.judge(self._evaluations(touched), outcomes)
            if whole:
                self.store.set_health(**{judged.KEY: judged_with})
        if self.actions is not None:  # after the commit: the escalator commits each step before taking it
            for outcome, path in outcomes:
                self.actions.on_outcome(outcome, path)
        self.health.flush()
        return len(touched)

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """One transaction around a phase; if the store itself fails, the live monitors (which followed writes
        now rolled back) are dropped."""
        try:
            with self.store.transaction():
                yield
        except DatabaseError:
            self.brain.forget()
            self.ingestor.forget_offsets()
            self.ingestor.drop_pending()
            raise

    def _classify(self, paths: set[str]) -> tuple[dict[Path, None], dict[Path, set[Path]], bool]:
        """Runs to re-inspect, appended logs per run, and whether the folder structure changed."""
        full: dict[Path, None] = {}
        logs: dict[Path, set[Path]] = {}
        structural = False
        for raw in paths:
            path, run_dir, direct = self._owner(raw)
            if run_dir is None:
                structural = True  # a change in a plain folder (or somewhere new): re-read the layout
                continue
            name = self.layout.runs[run_dir]
            if direct and self.ingestor.source_for(name, path) is not None and os.path.exists(raw):
                logs.setdefault(run_dir, set()).add(path)
                continue
            full[run_dir] = None
        return full, logs, structural

    def _owner(self, raw: str) -> tuple[Path, Path | None, bool]:
        """The changed path, its run directory, and whether it can be one of that run's logs; remembered per
        path until the layout changes (a busy log reports every append)."""
        if self.owners[0] is not self.layout:
            self.owners = (self.layout, {})
        known = self.owners[1].get(raw)
        if known is None:
            path = Path(raw)
            run_dir = L.owner(path, self.layout.runs, self.root, self.layout.attached, self.layout.twins)
            direct = run_dir is not None and (run_dir in (path, path.parent, path.parent.parent)
                                              or path in self.layout.attached)  # fmt: skip
            known = (path, run_dir, direct)
            if len(self.owners[1]) < OWNERS_KEPT:
                self.owners[1][raw] = known
        return known

    def _gone(self) -> set[Path]:
        return {d for d in self.layout.runs if not listing.exists(d)}

    def _settle_due(self) -> set[Path]:
        now = time.monotonic()
        return {d for d, (due, _) in self.settling.items() if due <= now and d in self.layout.runs}

    def next_due(self) -> float | None:
        """Seconds until a settling checkpoint or a deferred evaluation is due, None if none."""
        dues = [due for due, _ in self.settling.values()] + list(self.deferred.values())
        return max(0.0, min(dues) - time.monotonic()) if dues else None

    def _evaluations(self, touched: set[Path]) -> list[Path]:
        """Runs to judge now: touched ones not judged in the last ``evaluate_seconds``, and deferred ones due
        before the next pass could judge them (the last pass's length plus the debounce, at most half the gap).

        A run logging faster than ``evaluate_seconds`` is judged about once per that many seconds, and its new
        points wait at most about that long for their verdict; one that logs less often is judged at once, as is
        a run's first evaluation. Judging early by up to a pass's length, rather than late by one, keeps the
        latency bounded by the gap plus the time to read the points.
        """
        now, gap = time.monotonic(), self.config.daemon.evaluate_seconds
        for run_dir in touched:
            last = self.evaluated.get(run_dir)
            self.deferred.setdefault(run_dir, now if last is None else max(now, last + gap))
        horizon = now + min(gap / 2, self.pass_seconds + self.config.daemon.debounce_seconds)
        due = sorted(d for d, t in self.deferred.items() if t <= horizon and d in self.layout.runs)
        for run_dir in due:
            del self.deferred[run_dir]
            self.evaluated[run_dir] = now
        self.deferred = {d: t for d, t in self.deferred.items() if d in self.layout.runs}
        return due

    def to_process(self, full: dict[Path, None]) -> Iterable[Path]:
        """The runs of ``full`` this process inspects now, in order (all of them; a one-shot scan may hand many
        new runs to workers, :mod:`rankinv.daemon.scanpool`)."""
        return full

    def processed_elsewhere(self, touched: set[Path]) -> None:
        """After the batch's commit and before its judgement: what other processes read goes into the store (and
        the runs this pass must still judge into ``touched``); nothing in the daemon."""

    # -- stages ---------------------------------------------------------------------------------------------
    def process_run(self, run_dir: Path) -> None:
        name = self.layout.runs[run_dir]
        if not listing.exists(run_dir):
            self._vanished(run_dir, name)
            return
        twins = [t for t in self.layout.twins_of(run_dir) if listing.is_dir(t)]
        self.watch_run(run_dir, twins)
        extra = self.layout.logs_of(run_dir)
        info = self.inspect(run_dir, name, extra, twins)
        if judged.same_record(self.recorded(name), recorded_as(info)):
            self.unchanged.add(run_dir)
        complete = record_run(self.store, info)
        self._watch_checkpoints(run_dir, info.checkpoints, twins)
        if info.kind.upper() == "SFT":
            for c in complete:
                self.triage.offer(name, str(c.path))
        self.ingestor.refresh(name, run_dir, extra, listed=info.sources)
        self.ingest(info, extra)

    def ingest(self, info: RunInfo, extra: list[Path]) -> int:
        """Read the run's log from its stored offset (just listed); returns the points written or queued."""
        written = self.ingestor.ingest_run(info.name, info.path, extra)
        if written:
            self.health.ingested(info.name, written)
        return written

    def watch_run(self, run_dir: Path, twins: list[Path]) -> None:
        """Watch the run's folders that hold logs (and its twins')."""
        for d in [*L.run_watch_dirs(run_dir), *(w for t in twins for w in L.run_watch_dirs(t))]:
            self.dirs.add(d)

    def recorded(self, name: str) -> RunRecord | None:
        """The run's record as the store holds it before this inspection rewrites it."""
        return self.store.run(name)

    def inspect(self, run_dir: Path, name: str, extra: list[Path], twins: list[Path], *,
                peek_logs: bool = True) -> RunInfo:  # fmt: skip
        """What the run holds now (discovery's inspection; ``peek_logs``: see :func:`inspect_run`)."""
        return inspect_run(run_dir, name, settle_seconds=self.config.daemon.settle_seconds, extra_logs=extra,
                           twins=twins, peek_logs=peek_logs)  # fmt: skip

    def catch_up(self, run_dir: Path, touched: set[Path]) -> None:
        """Read whatever a run's known logs gained since their stored offsets (cheap when nothing did)."""
        name = self.layout.runs[run_dir]
        written = self.ingestor.ingest_run(name, run_dir, self.layout.logs_of(run_dir))
        if written:
            self.health.ingested(name, written)
            touched.add(run_dir)

    def ingest_logs(self, run_dir: Path, files: set[Path]) -> None:
        name = self.layout.runs[run_dir]
        written = 0
        for path in sorted(files):
            source = self.ingestor.source_for(name, path)
            if source is not None:
                written += self.ingestor.ingest_source(name, source)
        if written:
            self.health.ingested(name, written)

    def _watch_checkpoints(self, run_dir: Path, checkpoints: tuple[CheckpointInfo, ...], twins: list[Path]) -> None:
        """Watch the top level of checkpoints still being written (never their subtrees); settle timer."""
        incomplete = {Path(c.path) for c in checkpoints if not c.complete}
        homes = (run_dir, *twins)
        ours = {p for p in self.watched_checkpoints if any(h in p.parents for h in homes)}
        for p in ours - incomplete:
            self.dirs.discard(p)
        for p in incomplete - ours:
            self.dirs.add(p)
        self.watched_checkpoints = (self.watched_checkpoints - ours) | incomplete
        if incomplete:
            _, interval = self.settling.get(run_dir, (0.0, self.config.daemon.settle_seconds / 2))
            self.settling[run_dir] = (time.monotonic() + interval, min(interval * 1.5, MAX_SETTLE_BACKOFF))
        else:
            self.settling.pop(run_dir, None)

    def _after_triage(self) -> bool:
        """Judge the checkpoints whose triage finished; whether any did."""
        done = self.triage.tick()
        for run, checkpoint in done:
            record = self.store.run(run)
            if record is not None:
                step = next((c.step for c in self.store.checkpoints(run) if c.path == checkpoint), None)
                self._guard(Path(record.path), partial(self._judge_checkpoint, record, checkpoint, step))
        return bool(done)

    def _judge_checkpoint(self, run: RunRecord, checkpoint: str, step: int | None) -> None:
        with self.store.transaction():
            outcome = self.brain.evaluate_checkpoint(run, checkpoint, step)
        if outcome is not None and self.actions is not None:
            self.actions.on_outcome(outcome, run.path)

    def judge(self, run_dirs: list[Path], outcomes: list[tuple[Outcome, str]]) -> None:
        """Monitor, predict and decide for the GRPO runs among ``run_dirs`` that have data; their records are read
        in one statement and their results written in a few (:meth:`Brain.write`). The outcomes go to ``outcomes``
        (the actions see them once the batch is committed).

        A run's judgement writes nothing until the batch's is written, so one that fails is left out alone (no
        savepoint is needed) and marked, as before."""
        names = [n for n in (self.layout.runs.get(d) for d in run_dirs) if n]
        records = self.store.runs_named(names) if names else {}
        judged: list[tuple[Judged, str]] = []
        try:
            self.brain.prefit([n for n, r in records.items() if r.kind == "grpo"])
        except Exception:  # a shortcut only: each run's judgement fits its own windows as before
            log.exception("fitting the batch's windows together failed")
        for run_dir in run_dirs:
            self._guard(run_dir, partial(self.evaluate, run_dir, judged, records))
        written = self.brain.write([j for j, _ in judged])
        outcomes.extend(zip(written, (path for _, path in judged), strict=True))

    def evaluate(self, run_dir: Path, judged: list[tuple[Judged, str]], records: dict[str, RunRecord]) -> None:
        """Judge one run (see :meth:`judge`) if it is a GRPO run with points."""
        name = self.layout.runs.get(run_dir)
        record = records.get(name) if name else None
        if record is None or record.kind != "grpo":
            return
        live = self.brain.live.get(record.name)
        if (live is None or not live.points) and not self.has_points(record.name):
            return
        judged.append((self.brain.judge(record), record.path))

    def has_points(self, run: str) -> bool:
        """Whether the store holds any point of the run."""
        return self.store.has_metrics(run)

    def report_paths(self, paths: set[str]) -> None:
        """A triage report written next to a checkpoint (callback executor) is read at once."""
        for raw in paths:
            path = Path(raw)
            if path.name == REPORT_NAME:
                run_dir = L.owner(path, self.layout.runs, self.root)
                if run_dir is not None:
                    self.triage.report_appeared(self.layout.runs[run_dir], str(path.parent))

    # -- isolation ------------------------------------------------------------------------------------------
    def _guard(self, run_dir: Path, step: Callable[[], None], *, atomic: bool = False) -> bool:
        """Run one run's step; a failure marks that run (status=error) and is logged, the rest continue.

        ``atomic`` undoes the step's writes on failure (a savepoint inside the batch's transaction).
        """
        try:
            if atomic:
                with self.store.savepoint():
                    step()
            else:
                step()
            return True
        except DatabaseError:
            raise  # the store itself is broken: that is not one run's problem
        except Exception as exc:
            name = self.layout.runs.get(run_dir, run_dir.name)
            self.brain.forget(name)  # its writes were rolled back: rebuild its monitor and offsets from the store
            self.ingestor.forget_offsets()
            self.ingestor.drop_pending(name)
            message = f"{type(exc).__name__}: {exc}"
            log.exception("run %s: %s", name, message)
            self.health.error(f"{name}: {message}")
            mark(self.store, name, str(run_dir), "error", message[:500])
            return False
