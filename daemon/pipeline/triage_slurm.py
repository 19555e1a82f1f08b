"""Triage as Slurm GPU jobs for the daemon: submit with the triage issue's ``SlurmExecutor``, then check the
queue at most every ``CHECK_SECONDS`` (never blocking the loop) and hand back finished checkpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

CHECK_SECONDS = 15.0


@dataclass(frozen=True)
class Submitted:
    run: str
    checkpoint: str
    job: Any  # rankinv.triage.executors.SlurmJob


class SlurmTriage:
    def __init__(self, template_file: str):
        from rankinv.triage.executors import SlurmExecutor

        self.executor = SlurmExecutor.from_config(template_file)
        self.jobs: list[Submitted] = []
        self.next_check = 0.0

    def submit(self, run: str, checkpoint: str, args: list[str]) -> str:
        job = self.executor.submit(checkpoint, args)
        self.jobs.append(Submitted(run, checkpoint, job))
        return str(job.job_id)

    def reap(self) -> list[tuple[str, str, str | None]]:
        """(run, checkpoint, error or None) for each job that left the queue since the last check."""
        if not self.jobs or time.monotonic() < self.next_check:
            return []
        self.next_check = time.monotonic() + CHECK_SECONDS
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
