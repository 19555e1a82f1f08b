"""Triage as Slurm GPU jobs for the daemon: submit with ``rankinv.triage.executors.SlurmExecutor``, then check the
queue now and then (2 s after a submission, backing off to every ``CHECK_SECONDS``; never blocking the loop)
and hand back finished checkpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankinv.triage.executors import SlurmJob

CHECK_SECONDS = 15.0
FIRST_CHECK = 2.0


@dataclass(frozen=True)
class Submitted:
    run: str
    checkpoint: str
    job: SlurmJob


class SlurmTriage:
    def __init__(self, template_file: str):
        from rankinv.triage.executors import SlurmExecutor

        self.executor = SlurmExecutor.from_config(template_file)
        self.jobs: list[Submitted] = []
        self.next_check = 0.0
        self.interval = FIRST_CHECK

    def submit(self, run: str, checkpoint: str, args: list[str]) -> str:
        job = self.executor.submit(checkpoint, args)
        self.jobs.append(Submitted(run, checkpoint, job))
        self.interval = FIRST_CHECK
        self.next_check = time.monotonic() + FIRST_CHECK
        return str(job.job_id)

    def adopt(self, run: str, checkpoint: str, job_id: str) -> None:
        """Follow a job a previous daemon submitted (its report counts whenever it was written)."""
        from rankinv.triage.executors import SlurmJob
        from rankinv.triage.report import REPORT_FILENAME

        ckpt = Path(checkpoint)
        job = SlurmJob(job_id, ckpt, ckpt / REPORT_FILENAME, ckpt / "rankinv-triage.log",
                       ckpt / "rankinv-triage.sbatch", 0.0)  # fmt: skip
        self.jobs.append(Submitted(run, checkpoint, job))

    def reap(self) -> list[tuple[str, str, str | None]]:
        """(run, checkpoint, error or None) for each job that left the queue since the last check."""
        if not self.jobs or time.monotonic() < self.next_check:
            return []
        self.interval = min(self.interval * 1.5, CHECK_SECONDS)
        self.next_check = time.monotonic() + self.interval
        done, still = [], []
        for s in self.jobs:
            if not self.executor.finished(s.job):
                still.append(s)
                continue
            fresh = s.job.report.exists() and s.job.report.stat().st_mtime >= s.job.submitted_at - 1
            error = None if fresh else f"Slurm job {s.job.job_id} ended without writing {s.job.report}"
            done.append((s.run, s.checkpoint, error))
        self.jobs = still
        return done
