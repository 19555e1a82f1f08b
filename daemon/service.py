"""The daemon's main loop: block on file events, debounce a burst, run the pipeline, keep the heartbeat.

Idle cost is one wake-up a second (a ``PRAGMA data_version`` read to notice TUI commands) and a heartbeat
every few seconds; everything else happens only when the watcher queues an event or a timer falls due.
"""

from __future__ import annotations

import logging
import math
import queue
import resource
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from rankinv.daemon.fswatch import POLLING, EventQueue, FsEvent, InotifyLimit, Watcher, make_watcher
from rankinv.daemon.heap import keep_freed_heap
from rankinv.daemon.jobpoll import JobPoller
from rankinv.daemon.pipeline.commands import Commands, Hooks
from rankinv.daemon.pipeline.health import Health
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.pipeline.triage import TriageStage

from rankinv.config import Config
from rankinv.ingest.kept import KeptFiles
from rankinv.messages import Reason
from rankinv.store import Store

log = logging.getLogger("rankinv.daemon")
WAKE_SECONDS = 1.0
OPEN_FILES_WANTED = 65536
READ_BYTES = 8 << 20
"""A log is read (and its points written) this much at a time: memory holds one part's points, not the file's."""


def open_files_allowed() -> int:
    """Raise this process's open-file limit towards its hard limit (the daemon keeps one log per run open)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (OSError, ValueError):
            pass
    return OPEN_FILES_WANTED if soft == resource.RLIM_INFINITY else int(soft)


class Service:
    def __init__(self, root: Path, config: Config, store: Store, *, mode: str, mode_reason: str,
                 config_path: Path | None, state_dir: Path, act: bool = True):  # fmt: skip
        self.root, self.config, self.store, self.state_dir = root, config, store, state_dir
        self.mode, self.mode_reason = mode, mode_reason
        self.events: EventQueue = queue.SimpleQueue()
        self.halt = threading.Event()
        self.health = Health(store, config.daemon.heartbeat_seconds)
        self.triage = TriageStage(store, config, state_dir, config_path)
        self.watcher: Watcher = make_watcher(mode, self.events, config.daemon.poll_interval)
        actions = None
        if act:
            from rankinv.daemon.pipeline.act import Actions

            actions = Actions(root, config, store)
        self.actions = actions
        self.pipeline = Pipeline(
            root, config, store, triage=self.triage, health=self.health, dirs=self, actions=actions
        )
        self.pipeline.kept = KeptFiles(min(config.daemon.max_cached_runs, open_files_allowed() // 2), READ_BYTES)
        keep_freed_heap()  # the parts' buffers are reused, not faulted in again for every part
        hooks = Hooks(retriage=self._retriage, kill=self._kill, armed_changed=self._armed_changed)
        self.commands = Commands(store, root, config.daemon.state_dir, hooks)
        self.seen_version = -1
        self.jobs = JobPoller(store, config.daemon.job_poll_seconds, config.daemon.job_poll_timeout)

    # -- the directory set the pipeline asks for (forwarded to the watcher, with the inotify fallback) -------
    def add(self, directory: Path) -> None:
        try:
            self.watcher.add(directory)
        except InotifyLimit as exc:
            self._fall_back(str(exc))

    def discard(self, directory: Path) -> None:
        self.watcher.discard(directory)

    def _fall_back(self, why: str) -> None:
        """inotify ran out of watches or instances: switch to polling for good, and say so once."""
        log.warning("inotify unavailable (%s); switching to stat-polling every %.1fs (raise "
                    "fs.inotify.max_user_watches to use inotify)", why, self.config.daemon.poll_interval)  # fmt: skip
        self.watcher.stop()
        self.mode, self.mode_reason = POLLING, f"inotify limit: {why}"
        self.watcher = make_watcher(POLLING, self.events, self.config.daemon.poll_interval)
        self.watcher.start()
        for d in (*self.pipeline.layout.folders, *self.pipeline.layout.runs, *self.pipeline.watched_checkpoints):
            self.watcher.add(d)
        self.store.set_health(watch_mode=POLLING, watch_reason=self.mode_reason)
        self.store.add_event("warning", "daemon", f"inotify limit reached; polling instead ({why})")

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self.watcher.start()
        except InotifyLimit as exc:
            self.watcher = make_watcher(POLLING, self.events, self.config.daemon.poll_interval)
            self.mode, self.mode_reason = POLLING, str(exc)
            self.watcher.start()
        log.info("watching %s with %s (%s)", self.root, self.mode, self.mode_reason)
        self.triage.reset_interrupted()
        self.health.started(str(self.root), watch_mode=self.mode, watch_reason=self.mode_reason,
                            armed=str(self._armed()).lower(), triage=self.triage.why)  # fmt: skip
        log.info("%s", self.triage.describe())

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT or :meth:`request_stop`; returns the exit code."""
        self._install_signals()
        try:
            self.pipeline.handle(set(), rescan=True)
            self.health.beat(watching=self.watcher.watched(), ready="true")
            self._loop()
        finally:
            self.close()
        return 0

    def request_stop(self) -> None:
        self.halt.set()
        self.events.put(FsEvent("", "wake"))

    def close(self) -> None:
        self.watcher.stop()
        self.triage.stop()
        self.jobs.stop()
        if self.pipeline.kept is not None:
            self.pipeline.kept.close_all()
        self.health.stopped()
        log.info("stopped")

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("received %s; stopping", signal.Signals(signum).name)
            self.request_stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    # -- the loop -------------------------------------------------------------------------------------------
    def rescan_every(self) -> float:
        """Seconds between full rescans: ``rescan_seconds``, or ``poll_rescan_seconds`` (if longer) when polling.

        inotify can drop events (a full queue, a folder replaced between its event and its watch), so there the
        rescan is what finds them, every ``rescan_seconds``. The polling watcher drops none: each scan compares
        every due folder's entries (size, mtime) with the last, so a new run, an appended, truncated or replaced
        log, a deleted run or a new checkpoint is an event within its bound (:mod:`rankinv.daemon.polling`), and
        the pipeline acts on events without a rescan. The rescan (the root and every run folder listed, every log
        read from its offset) is then only a net under the watcher itself, and is run less often there.
        """
        every = self.config.daemon.rescan_seconds
        if self.mode == POLLING:
            every = max(every, self.config.daemon.poll_rescan_seconds)
        return every

    def _loop(self) -> None:
        next_rescan = time.monotonic() + self.rescan_every()
        while not self.halt.is_set():
            paths = self._collect(self._timeout(next_rescan))
            sweep = "" in paths  # inotify overflowed: events were lost
            rescan = time.monotonic() >= next_rescan or sweep
            if rescan:
                next_rescan = time.monotonic() + self.rescan_every()
            paths.discard("")
            if paths or rescan or self.pipeline.next_due() == 0.0 or self.triage.busy():
                self.pipeline.report_paths(paths)
                self.pipeline.handle(paths, rescan=rescan, sweep=sweep)
            self._housekeeping()

    def _timeout(self, next_rescan: float) -> float:
        dues = [WAKE_SECONDS, self.health.due_in(), max(0.0, next_rescan - time.monotonic())]
        settle = self.pipeline.next_due()
        if settle is not None:
            dues.append(settle)
        timeout: float = max(0.01, min(dues))
        return timeout

    def _collect(self, timeout: float) -> set[str]:
        """Block for the first event, then gather the rest of the burst for ``debounce_seconds``."""
        try:
            first = self.events.get(timeout=timeout)
        except queue.Empty:
            return set()
        paths = {self._path_of(first)}
        deadline = time.monotonic() + self.config.daemon.debounce_seconds
        while (left := deadline - time.monotonic()) > 0 and not self.halt.is_set():
            try:
                paths.add(self._path_of(self.events.get(timeout=left)))
            except queue.Empty:
                break
        if self.halt.is_set():
            return set()
        return {p for p in paths if p is not None}

    def _path_of(self, event: FsEvent) -> str | None:
        if event.kind == "wake":
            return None
        if event.kind == "overflow":
            log.warning("inotify queue overflowed: events were lost; rescanning the root")
            return ""
        path: str = event.path
        return path

    def _housekeeping(self) -> None:
        if self.actions is not None:
            self.actions.tick()
        self.jobs.tick()
        version = self.store.data_version()
        if version != self.seen_version:
            self.seen_version = version
            self.commands.consume()
        if self.health.due_in() == 0:
            self.health.beat(watching=self.watcher.watched())

    # -- command hooks --------------------------------------------------------------------------------------
    def _armed(self) -> bool:
        from rankinv.daemon.actions.arming import read_armed

        armed: bool = read_armed(self.root, self.config.actions, self.config.daemon.state_dir).armed
        return armed

    def _armed_changed(self, armed: bool) -> None:
        self.store.set_health(armed=str(armed).lower())
        self.store.add_event("warning", "daemon", "actions ARMED: KILL verdicts stop jobs" if armed
                             else "actions disarmed: dry-run")  # fmt: skip

    def _retriage(self, run: str, checkpoint: str) -> None:
        self.triage.offer(run, checkpoint, force=True)

    def _kill(self, run: str, source: str) -> str:
        if self.actions is None:
            return "error: this daemon does not act (one-shot scan)"
        record = self.store.run(run)
        assert record is not None
        summary = f"KILL: requested by the user ({source})"
        reasons = [Reason("user request", math.nan, math.nan, "", None, None, "kill", f"kill requested from {source}")]
        vid = self.store.put_verdict(run, None, step=record.last_step, decision="KILL", confidence=1.0,
                                     stage="manual", summary=summary, reasons=reasons).id  # fmt: skip
        self.actions.request_kill(run, record.path, vid, record.last_step, summary)
        return f"ok: kill requested (verdict {vid}); armed={str(self._armed()).lower()}"
