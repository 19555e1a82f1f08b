"""The job column's source: what Slurm says about each run's job (state, node, elapsed), asked off the loop.

Every ``[daemon] job_poll_seconds`` the daemon's loop calls :meth:`JobPoller.tick`, which never blocks: it hands
the job ids the store knows (a run's manifest, or the job a kill acted on) to a worker thread that asks Slurm
about all of them in one ``squeue`` call (and about those the controller has forgotten in one ``sacct`` call),
each bounded by ``job_poll_timeout``; the next tick writes the answer. A Slurm that is absent, slow or prints
garbage gives the state ``slurm?``; a job that has left the controller keeps its last final state (``CANCELLED``
…), or what accounting says, or becomes ``gone``. A job seen in a final state is not asked about again. No job
ids: Slurm is never asked.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from rankinv.daemon.actions.slurm import GONE_STATES, Slurm, SlurmError, SlurmJob

from rankinv.store import Store

log = logging.getLogger("rankinv.daemon")
UNKNOWN = "slurm?"  # Slurm did not answer: the job's state is not known
GONE = "gone"  # the job left the controller before its final state was seen
# Final for good (a preempted or node-failed job may be requeued under the same id: those are asked again).
SETTLED = frozenset({"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", GONE})

JobState = tuple[str, str, str | None, float | None]  # job id, state, node, elapsed seconds


@dataclass(frozen=True)
class Answer:
    jobs: dict[str, str]  # run → job id, as asked
    found: dict[str, SlurmJob]  # job id → what Slurm said
    error: str | None  # why Slurm gave no answer
    at: float


def states(answer: Answer, previous: Mapping[str, str | None]) -> dict[str, JobState]:
    """Each run's job state from one answer; ``previous`` is the state each run had before."""
    out: dict[str, JobState] = {}
    for run, job_id in answer.jobs.items():
        job = answer.found.get(job_id)
        if answer.error is not None:
            out[run] = (job_id, UNKNOWN, None, None)
        elif job is not None:
            out[run] = (job_id, job.state or UNKNOWN, job.node or None, job.elapsed)
        else:
            before = previous.get(run) or ""
            out[run] = (job_id, before if before in GONE_STATES else GONE, None, None)
    return out


class JobPoller:
    def __init__(self, store: Store, interval: float, timeout: float, env: Mapping[str, str] | None = None):
        self.store, self.interval = store, interval
        self.slurm = Slurm(env=env, timeout=timeout, retries=1)
        self.answers: queue.SimpleQueue[Answer] = queue.SimpleQueue()
        self.worker: threading.Thread | None = None
        self.due = 0.0
        self.settled: set[str] = set()  # job ids whose final state is recorded

    def tick(self) -> None:
        """Write an answer that has arrived; start the next question when it is due and none is in flight."""
        self._write_answers()
        if self.interval <= 0 or time.monotonic() < self.due or (self.worker and self.worker.is_alive()):
            return
        self.due = time.monotonic() + self.interval
        jobs = {run: job for run, job in self.store.slurm_jobs().items() if job not in self.settled}
        if jobs:
            self.worker = threading.Thread(target=self._ask, args=(jobs,), name="rankinv-jobpoll", daemon=True)
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.join(timeout=self.slurm.timeout + 1)

    def _ask(self, jobs: dict[str, str]) -> None:
        """In the worker thread: Slurm only, never the store (one connection per thread)."""
        try:
            found = {j.job_id: j for j in self.slurm.poll(sorted(set(jobs.values())))}
        except SlurmError as exc:
            self.answers.put(Answer(jobs, {}, str(exc), time.time()))
            return
        left = sorted(set(jobs.values()) - set(found))
        try:
            found |= {j.job_id: j for j in self.slurm.accounting(left) if j.job_id in left}
        except SlurmError as exc:  # no accounting here (common): the last state seen stays
            log.debug("job column: sacct: %s", exc)
        self.answers.put(Answer(jobs, found, None, time.time()))

    def _write_answers(self) -> None:
        while True:
            try:
                answer = self.answers.get_nowait()
            except queue.Empty:
                return
            if answer.error:
                log.warning("job column: %s", answer.error)
            previous = {r.name: r.job_state for r in self.store.runs()}
            written = states(answer, previous)
            self.store.set_job_states(written, answer.at)
            self.settled |= {job for job, state, _, _ in written.values() if state in SETTLED}
