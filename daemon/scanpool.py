"""Forked workers for a one-shot scan of many runs new to the store: each reads, records and judges the runs it
claims into a store file of its own; the scan (the store's one writer) copies those files into the store.

A cold ``rankinv status`` on 10,000 runs spends about 0.6 ms of Python per run over some 25 stages: no serial cut is
left, so the runs are split. Only runs the store holds nothing of are handed out (no record, no log offset), so a
worker needs nothing the scan read from the store; what it cannot do alone it gives back, and the scan does it as
before: an SFT run (its checkpoints are offered to triage), a run with a log the store has an offset for. A GRPO run
whose manifest names a parent checkpoint is read by the worker but judged by the scan (its features come from the
parent's triage report, which may be another worker's). The judgements a worker made are kept only when the
predictor's history cannot have a model (fewer finished runs in all than ``[predict] min_history``): otherwise the
scan judges those runs again on the whole store, so the results are the serial pass's either way.

Runs are claimed in chunks from a pipe filled with chunk numbers before the fork (a read of 4 bytes takes one), so
a busy core does not hold up the others. Before each run a worker writes its index to a shared page: a worker that
dies (killed, out of memory) leaves the run it was on marked in the store with the reason, and every other run it
claimed is read again by the scan. A failure inside a run is the serial pass's: the run is marked, the rest carry on.
"""

from __future__ import annotations

import logging
import math
import mmap
import os
import pickle
import shutil
import signal
import struct
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NoReturn

from rankinv.daemon.oneshot import OneShot
from rankinv.daemon.pipeline.brain import Judged
from rankinv.daemon.pipeline.health import Health
from rankinv.daemon.pipeline.record import mark
from rankinv.daemon.pipeline.triage import TriageStage

from rankinv.config import Config
from rankinv.discovery import RunInfo
from rankinv.metrics import EVAL_PREFIX
from rankinv.store import RunRecord, Store
from rankinv.store.merge import merge_runs

log = logging.getLogger("rankinv.daemon")

CUTOVER = 400  # fewer new runs than this: the scan reads them alone (see benchmarks/RESULTS.md)
MAX_PROCESSES = 4
CHUNK = 16
_IDLE, _JUDGING = -1, -2
_DIR_PREFIX = "oneshot-workers-"


def processes(config: Config, load: Callable[[], float] | None = None) -> int:
    """How many workers read a root's new runs: ``[daemon] scan_workers``, or with 0 one per core this process may
    run on, at most :data:`MAX_PROCESSES` (the scan itself waits for them: its part comes before and after) — and
    none (1: the scan alone) when the cores are already busy: less than half a core free by the 1-minute load
    average (measured: with no free core the split costs a fifth more CPU and gains no time)."""
    chosen = config.daemon.scan_workers
    if chosen:
        return int(chosen)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        busy = (load or _load)()
    except OSError:
        busy = 0.0
    if cores - busy < MIN_FREE_CORES:
        return 1
    return max(1, min(cores, MAX_PROCESSES))


MIN_FREE_CORES = 0.5


def _load() -> float:
    return os.getloadavg()[0]


class _HandBack(BaseException):
    """A run a worker leaves to the scan (raised before the run wrote anything; its savepoint is undone)."""


@dataclass
class WorkerResult:
    chunks: list[int]
    touched: list[str]  # runs read without error (their judgement was made or left to the scan)
    handed_back: list[str]
    judge_later: list[str]
    read: dict[str, tuple[str, list[str]]]  # the fingerprints of the runs it read (unchanged.Seen.read)
    finished: int  # runs with an outcome in its store (the predictor's history)
    points: int
    pending: str
    errors: int
    last_error: str | None = None
    notes: list[str] = field(default_factory=list)


class ScanPool:
    """Forks ``children`` workers over ``runs`` (sorted run folders the store holds nothing of), numbered from 1."""

    def __init__(self, scan: OneShot, runs: list[Path], children: int, state_dir: Path):
        self.scan, self.runs = scan, runs
        _remove_stale(state_dir)
        self.dir = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=state_dir))
        self.chunk = max(CHUNK, math.ceil(len(runs) / 8192))  # at most 8192 tokens: 32 KiB, inside a pipe's buffer
        chunks = math.ceil(len(runs) / self.chunk)
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, b"".join(struct.pack("<i", c) for c in range(chunks)))
        finally:
            os.close(write_end)  # once it is empty, a read returns nothing: no chunk left
        self.tokens = read_end
        self.progress = mmap.mmap(-1, 8 * (children + 1))
        for slot in range(children + 1):
            self.at(slot, _IDLE)
        self.pids: dict[int, int] = {}
        self.results: dict[int, WorkerResult] = {}
        self.redo: list[Path] = []
        for slot in range(1, children + 1):
            try:
                pid = os.fork()
            except OSError as exc:  # out of processes or memory: the runs no worker claims are read by the scan
                log.warning("a one-shot scan worker could not be started (%s); %d started", exc, len(self.pids))
                break
            if pid == 0:
                _child(self, slot)
            self.pids[slot] = pid

    # -- shared by the scan and its workers ---------------------------------------------------------------------
    def claim(self) -> int | None:
        got = os.read(self.tokens, 4)
        return struct.unpack("<i", got)[0] if got else None

    def of(self, chunk: int) -> range:
        return range(chunk * self.chunk, min((chunk + 1) * self.chunk, len(self.runs)))

    def at(self, slot: int, index: int) -> None:
        struct.pack_into("<q", self.progress, 8 * slot, index)

    def was_at(self, slot: int) -> int:
        return int(struct.unpack_from("<q", self.progress, 8 * slot)[0])

    # -- the scan's side ----------------------------------------------------------------------------------------
    def scan_runs(self) -> Iterator[Path]:
        """The runs the scan reads itself once the workers are done: what one gave back, or left unread by dying."""
        self._wait()
        yield from self.redo

    def _wait(self) -> None:
        done: set[int] = set()
        culprits: dict[int, str] = {}
        for slot, pid in sorted(self.pids.items()):
            _, status = os.waitpid(pid, 0)
            del self.pids[slot]
            code = os.waitstatus_to_exitcode(status)
            result = self._result(slot) if code == 0 else None
            if result is not None:
                self.results[slot] = result
                done.update(result.chunks)
                continue
            why = f"killed by signal {-code} ({_signal_name(-code)})" if code < 0 else f"exited with code {code}"
            at = self.was_at(slot)
            if at >= 0:
                culprits[at] = f"the worker process reading this run {why}; it was not read (the next scan tries again)"
            log.error("a one-shot scan worker (pid %d) %s%s", pid, why,
                      "" if at >= 0 else "; its runs are read again by the scan")  # fmt: skip
        for index, message in sorted(culprits.items()):
            run_dir = self.runs[index]
            name = self.scan.layout.runs[run_dir]
            log.error("run %s: %s", name, message)
            self.scan.health.error(f"{name}: {message}")
            mark(self.scan.store, name, str(run_dir), "error", message)
        chunks = math.ceil(len(self.runs) / self.chunk)
        self.redo = [self.runs[i] for c in range(chunks) if c not in done for i in self.of(c) if i not in culprits]
        for result in self.results.values():
            self.redo.extend(Path(d) for d in result.handed_back)

    def _result(self, slot: int) -> WorkerResult | None:
        try:
            data = (self.dir / f"{slot}.result").read_bytes()
            result = pickle.loads(data)
        except (OSError, pickle.UnpicklingError, EOFError):
            return None
        return result if isinstance(result, WorkerResult) else None

    def merge(self, touched: set[Path]) -> None:
        """The workers' stores into the scan's (after its batch's commit); the runs the scan must judge itself into
        ``touched``."""
        scan = self.scan
        k = scan.config.predict.k
        finished = len(scan.store.peaks(EVAL_PREFIX, f"pass@{k}")) + sum(r.finished for r in self.results.values())
        keep_judged = finished < scan.config.predict.min_history  # no model anywhere: every judgement is the serial
        for slot, result in sorted(self.results.items()):
            merge_runs(scan.store, self.dir / f"{slot}.sqlite", judged=keep_judged)
            assert scan.seen is not None
            scan.seen.read.update(result.read)
            touched.update(Path(d) for d in result.judge_later)
            if not keep_judged:
                touched.update(Path(d) for d in result.touched)
            scan.health.points += result.points
            if result.pending:
                scan.health.pending = result.pending
            if result.errors:
                scan.health.errors += result.errors
                scan.store.set_health(errors=scan.health.errors, last_error=result.last_error)

    def close(self) -> None:
        """Stop workers still running (the scan failed), and remove their files."""
        for pid in self.pids.values():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        self.pids.clear()
        os.close(self.tokens)
        self.progress.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def _remove_stale(state_dir: Path) -> None:
    """Worker files a scan that was killed left behind (this scan holds the daemon lock: none is in use)."""
    for old in state_dir.glob(f"{_DIR_PREFIX}*"):
        shutil.rmtree(old, ignore_errors=True)


def _child(pool: ScanPool, slot: int) -> NoReturn:
    """A worker's whole life: never returns into the scan's stack."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scan's to handle: it stops its workers
        store = Store.open(pool.dir / f"{slot}.sqlite")
        worker = Worker(pool.scan, store, pool, slot)
        result = worker.work()
        tmp = pool.dir / f"{slot}.tmp"
        tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, pool.dir / f"{slot}.result")
        store.close()
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


class Worker(OneShot):
    """The worker: the scan's pipeline on a store file of its own, over the runs it claims."""

    def __init__(self, scan: OneShot, store: Store, pool: ScanPool, slot: int):
        triage = TriageStage(store, scan.config, scan.triage.logs.parent, scan.triage.config_path)
        super().__init__(scan.root, scan.config, store, triage=triage, health=Health(store, 60.0),
                         dirs=scan.dirs, actions=None)  # fmt: skip
        self.layout, self.seen, self.known = scan.layout, scan.seen, scan.known
        self.claims, self.slot = pool, slot  # the pool it claims runs from (its own pool stays None)
        self.handed_back: list[str] = []
        self.judge_later: list[str] = []

    def inspect(self, run_dir: Path, name: str, extra: list[Path], twins: list[Path], *,
                peek_logs: bool = False) -> RunInfo:  # fmt: skip
        info: RunInfo = super().inspect(run_dir, name, extra, twins, peek_logs=peek_logs)
        if info.kind.upper() == "SFT" or any(str(s.path) in self.known for s in info.sources):
            raise _HandBack
        return info

    def _guard(self, run_dir: Path, step: Callable[[], None], *, atomic: bool = False) -> bool:
        try:
            return bool(super()._guard(run_dir, step, atomic=atomic))
        except _HandBack:
            self.ingestor.forget_offsets()
            self.ingestor.drop_pending(self.layout.runs[run_dir])
            self.handed_back.append(str(run_dir))
            return False

    def evaluate(self, run_dir: Path, judged: list[tuple[Judged, str]], records: dict[str, RunRecord]) -> None:
        record = records.get(self.layout.runs.get(run_dir, ""))
        if record is not None and record.parent:
            self.judge_later.append(str(run_dir))  # its parent's triage report may be another worker's
            return
        super().evaluate(run_dir, judged, records)

    def work(self) -> WorkerResult:
        pool, slot = self.claims, self.slot
        touched: list[Path] = []
        chunks: list[int] = []
        with self._batch(), self.ingestor.deferred():
            while (chunk := pool.claim()) is not None:
                chunks.append(chunk)
                for i in pool.of(chunk):
                    pool.at(slot, i)
                    run_dir = pool.runs[i]
                    if self._guard(run_dir, partial(self.process_run, run_dir), atomic=True):
                        touched.append(run_dir)
                    self.ingestor.flush_if_large()
        pool.at(slot, _JUDGING)
        with self._batch():
            self.judge(self._evaluations(set(touched)), [])
        pool.at(slot, _IDLE)
        names = {self.layout.runs[d] for d in touched}
        assert self.seen is not None
        k = self.config.predict.k
        return WorkerResult(
            chunks=chunks, touched=[str(d) for d in touched], handed_back=self.handed_back,
            judge_later=self.judge_later, read={n: v for n, v in self.seen.read.items() if n in names},
            finished=len(self.store.peaks(EVAL_PREFIX, f"pass@{k}")), points=self.health.points,
            pending=self.health.pending, errors=self.health.errors,
            last_error=self.store.health().get("last_error"),
        )  # fmt: skip
