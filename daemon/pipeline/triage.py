"""Triage scheduling: every new complete SFT checkpoint gets a stage-1 report, from one of three executors.

- ``callback``: the training job wrote ``rankinv-triage.json`` next to the checkpoint itself; just read it.
- ``local``: ``python -m rankinv triage CKPT --json`` (``rankinv.triage.executors.triage_argv``) as a subprocess in
  its own session, at most ``[daemon] triage_concurrency`` at once, never blocking the loop; the report it writes
  next to the checkpoint is read when it exits.
- ``sbatch``: ``rankinv.triage.executors.SlurmExecutor`` submits a GPU job; the daemon checks the queue now and then
  and reads the report once the job has left it.

A report already next to the checkpoint is always used, whatever the executor. Without any executor the
checkpoint is marked ``skipped`` with the reason, never given a made-up report.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from rankinv.daemon.pipeline.triage_slurm import SlurmTriage

from rankinv.boundary.child import CHILD_CWD
from rankinv.config import Config
from rankinv.errors import RankinvError
from rankinv.store import Store

log = logging.getLogger("rankinv.daemon")
REPORT_NAME = "rankinv-triage.json"
EXECUTORS = ("auto", "local", "sbatch", "callback", "none")


@dataclass
class Job:
    run: str
    checkpoint: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: float


def resolve_executor(name: str) -> tuple[str, str]:
    """(executor actually used, why) for the configured name."""
    if name not in EXECUTORS:
        raise RankinvError(f"[daemon] triage_executor = {name!r}; choose one of {', '.join(EXECUTORS)}")
    if name in ("auto", "local"):
        return "local", "local subprocess (python -m rankinv triage)"
    if name == "sbatch":
        return "sbatch", "Slurm GPU jobs (sbatch)"
    if name == "callback":
        return name, "reports written by the training callback only"
    return name, "none: checkpoints are not triaged"


class TriageStage:
    def __init__(self, store: Store, config: Config, state_dir: Path, config_path: Path | None):
        self.store, self.config, self.config_path = store, config, config_path
        self.logs = state_dir / "triage"
        self.executor, self.why = resolve_executor(config.daemon.triage_executor)
        self.queue: deque[tuple[str, str]] = deque()
        self.jobs: dict[str, Job] = {}
        self.done: list[tuple[str, str]] = []
        self.slurm: SlurmTriage | None = None
        if self.executor == "sbatch":
            self.slurm = SlurmTriage(config.triage.slurm_template)

    def describe(self) -> str:
        return f"triage: {self.why}"

    def reset_interrupted(self) -> None:
        """After a restart, checkpoints left pending or running are offered again (their jobs died with us), and
        those skipped for want of an executor are offered again if one is available now."""
        retry = ("pending", "running", "skipped") if self.executor in ("local", "sbatch") else ("pending", "running")
        for c in self.store.checkpoints():
            job = c.triage_job or ""
            if c.triage_state == "running" and job.startswith("slurm ") and self.slurm is not None:
                self.slurm.adopt(c.run, c.path, job.removeprefix("slurm "))  # a GPU job outlives us: never resubmit
            elif c.triage_state in retry:
                self.store.set_triage_state(c.path, "none")

    def offer(self, run: str, checkpoint: str, *, force: bool = False) -> None:
        """A complete SFT checkpoint: use its report if one exists, else schedule it once."""
        state = self._state(checkpoint)
        if state in ("pending", "running") or (state in ("done", "failed") and not force):
            return
        report = Path(checkpoint) / REPORT_NAME
        if report.is_file() and not force:
            self._collect(run, checkpoint)
        elif self.executor in ("local", "sbatch"):
            self.store.set_triage_state(checkpoint, "pending")
            self.queue.append((run, checkpoint))
        elif state != "skipped" or force:
            self.store.set_triage_state(checkpoint, "skipped", error=self.why)

    def report_appeared(self, run: str, checkpoint: str) -> None:
        """A ``rankinv-triage.json`` was written (by the callback or a job): read it unless a job owns it."""
        if checkpoint not in self.jobs and (Path(checkpoint) / REPORT_NAME).is_file():
            self._collect(run, checkpoint)

    def tick(self) -> list[tuple[str, str]]:
        """Reap finished jobs, start queued ones; returns the (run, checkpoint) pairs triaged since last tick."""
        for job in list(self.jobs.values()):
            if job.proc.poll() is not None:
                self._finish(job)
        if self.slurm is not None:
            self._reap_slurm()
        while self.queue and len(self.jobs) < max(1, self.config.daemon.triage_concurrency):
            self._start(*self.queue.popleft())
        done, self.done = self.done, []
        return done

    def busy(self) -> bool:
        return bool(self.jobs or self.queue or (self.slurm is not None and self.slurm.jobs))

    def stop(self) -> None:
        """Stop running triage jobs (whole process group) so nothing outlives the daemon."""
        for job in self.jobs.values():
            _kill_group(job.proc)
            self.store.set_triage_state(job.checkpoint, "none")
        self.jobs.clear()

    # -- internals ------------------------------------------------------------------------------------------
    def _state(self, checkpoint: str) -> str:
        record = self.store.checkpoint(checkpoint)
        return record.triage_state if record else "none"

    def _args(self) -> list[str]:
        return ["--config", str(self.config_path)] if self.config_path is not None else []

    def _start(self, run: str, checkpoint: str) -> None:
        if self.slurm is not None:
            self._submit(run, checkpoint)
            return
        from rankinv.triage.executors import triage_argv

        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{Path(checkpoint).name}-{abs(hash(checkpoint)) % 10**8}.log"
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                triage_argv(checkpoint, self._args()), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=CHILD_CWD,
            )  # fmt: skip
        self.jobs[checkpoint] = Job(run, checkpoint, proc, log_path, time.time())
        self.store.set_triage_state(checkpoint, "running", job=f"pid {proc.pid}")
        log.info("triage started for %s (pid %d, log %s)", checkpoint, proc.pid, log_path)

    def _submit(self, run: str, checkpoint: str) -> None:
        assert self.slurm is not None
        try:
            job_id = self.slurm.submit(run, checkpoint, self._args())
        except RankinvError as exc:
            self._failed(run, checkpoint, f"sbatch: {exc}")
            return
        self.store.set_triage_state(checkpoint, "running", job=f"slurm {job_id}")

    def _reap_slurm(self) -> None:
        assert self.slurm is not None
        try:
            finished = self.slurm.reap()
        except RankinvError as exc:  # squeue missing or failing: try again at the next check
            log.warning("triage jobs: %s", exc)
            return
        for run, checkpoint, error in finished:
            if error is None:
                self._collect(run, checkpoint)
            else:
                self._failed(run, checkpoint, error)

    def _failed(self, run: str, checkpoint: str, message: str) -> None:
        self.store.set_triage_state(checkpoint, "failed", error=message)
        self.store.add_event("error", "triage", f"triage of {checkpoint} failed: {message[-300:]}", run)
        log.error("triage of %s failed: %s", checkpoint, message)

    def _finish(self, job: Job) -> None:
        del self.jobs[job.checkpoint]
        code = job.proc.returncode
        if code == 0 and (Path(job.checkpoint) / REPORT_NAME).is_file():
            self._collect(job.run, job.checkpoint)
            return
        self._failed(job.run, job.checkpoint, f"rankinv triage exited with {code}; log {job.log}: {_tail(job.log)}")

    def _collect(self, run: str, checkpoint: str) -> None:
        from rankinv.triage.digest import summarize
        from rankinv.triage.report import read_report

        try:
            report = read_report(Path(checkpoint) / REPORT_NAME)
        except RankinvError as exc:
            self.store.set_triage_state(checkpoint, "failed", error=str(exc))
            log.error("%s", exc)
            return
        self.store.put_triage_report(checkpoint, report, summarize(report))
        self.store.add_event("info", "triage", f"triaged {checkpoint}", run)
        self.done.append((run, checkpoint))


def _tail(path: Path, size: int = 600) -> str:
    try:
        data = path.read_bytes()[-size:]
    except OSError:
        return "(no log)"
    return data.decode(errors="replace").strip().replace("\n", " | ")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(timeout=5)
