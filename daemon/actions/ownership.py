"""Never act on what the user does not own: the job's (or process's) user id must be ours.

Checked immediately before every signal, not once: between two steps of an escalation a pid can be
recycled and a job id can be looked up again. Unknown ownership counts as not owned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rankinv.daemon.actions.resolve import Target, proc_stat
from rankinv.daemon.actions.slurm import Slurm

OK, GONE, NOT_OWNER = "ok", "gone", "not_owner"


@dataclass(frozen=True)
class Ownership:
    """``status`` is ok, gone (nothing left to act on) or not_owner; ``why`` says it in words."""

    status: str
    why: str

    @property
    def ok(self) -> bool:
        return self.status == OK


def check_job(target: Target, slurm: Slurm, uid: int) -> Ownership:
    job = slurm.job(target.job_id)
    if job is None:
        return Ownership(GONE, f"job {target.job_id} is no longer in the queue")
    if job.uid != uid:
        return Ownership(NOT_OWNER, f"job {job.job_id} belongs to {job.user} (uid {job.uid}), not uid {uid}")
    return Ownership(OK, f"job {job.job_id} is yours ({job.state})")


def check_process(target: Target, uid: int) -> Ownership:
    stat = proc_stat(target.pid)
    if stat is None or stat[0] != target.start_ticks:
        return Ownership(GONE, f"pid {target.pid} has exited")
    if stat[1] != uid:
        return Ownership(NOT_OWNER, f"pid {target.pid} belongs to uid {stat[1]}, not uid {uid}")
    return Ownership(OK, f"pid {target.pid} is yours")


def check(target: Target, slurm: Slurm, uid: int | None = None) -> Ownership:
    """Ownership of ``target`` right now; Slurm failures propagate as SlurmError for the caller to retry."""
    uid = os.getuid() if uid is None else uid
    if target.kind == "slurm":
        return check_job(target, slurm, uid)
    if target.kind == "process":
        return check_process(target, uid)
    return Ownership(NOT_OWNER, "no job was identified")
