"""Which job or process is this run? Found from evidence, never guessed, and confirmed by the job itself.

1. ``SLURM_JOB_ID`` in the run manifest ``rankinv-run.json``; for a run without a manifest, the one job Slurm
   ties to the run's stdout file (:mod:`~rankinv.daemon.actions.stdout_job`: the job id in the file name,
   confirmed by Slurm's StdOut).
2. Otherwise, if configured (``[actions] match_by``), exactly one of the user's own jobs (``squeue --me``)
   whose working directory, name or comment equals the run directory or run name. Zero or several
   matches leave the run unresolved: it gets an alert, not an action.
3. A run outside Slurm: the manifest's pid, only if that process still exists on this host with the same
   start time (``/proc/PID/stat`` field 22) — a recycled pid is someone else's process.

The manifest is read only if it can be trusted (:mod:`.manifest`), and a job or pid found from it is a target
only when the job itself ties it to the run (:mod:`.evidence`); otherwise the run is unresolved with the reason
"evidence does not match: …". :func:`verify_job` is the check for a job id found any other way.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from rankinv.daemon.actions.evidence import process_tie, slurm_tie
from rankinv.daemon.actions.manifest import Evidence, Untrusted, read_evidence
from rankinv.daemon.actions.slurm import Slurm, SlurmError, SlurmJob
from rankinv.daemon.actions.stdout_job import stdout_jobs

MATCH_KEYS = ("workdir", "name", "comment")


@dataclass(frozen=True)
class Target:
    """What to act on: a Slurm job, a local process, or nothing (``kind == "none"``, with the reason)."""

    kind: str
    job_id: str = ""
    pid: int = 0
    start_ticks: int = 0
    how: str = ""

    def label(self) -> str:
        if self.kind == "slurm":
            return f"job {self.job_id}"
        return f"pid {self.pid}" if self.kind == "process" else "no job"

    def encode(self) -> str:
        """Compact form kept in the ledger: ``slurm:1234`` or ``process:PID:START_TICKS``."""
        if self.kind == "slurm":
            return f"slurm:{self.job_id}"
        return f"process:{self.pid}:{self.start_ticks}" if self.kind == "process" else ""

    @classmethod
    def decode(cls, text: str) -> Target:
        parts = text.split(":")
        if parts[0] == "slurm" and len(parts) == 2:
            return cls("slurm", job_id=parts[1])
        if parts[0] == "process" and len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return cls("process", pid=int(parts[1]), start_ticks=int(parts[2]))
        return cls("none", how=f"unreadable target {text!r}")


MISMATCH = "evidence does not match: "


def proc_stat(pid: int) -> tuple[int, int] | None:
    """(start time in clock ticks since boot, real uid) of a live process, or None (a zombie is not alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    return int(fields[19]), int(uid_line.split()[1])


def boot_time() -> float:
    line = next(x for x in Path("/proc/stat").read_text().splitlines() if x.startswith("btime "))
    return float(line.split()[1])


def _same_start(evidence: Evidence, ticks: int) -> bool:
    if evidence.start_ticks is not None:
        return bool(evidence.start_ticks == ticks)
    if evidence.start_time is None:
        return False
    started = boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    return bool(abs(evidence.start_time - started) < 0.1)


def _same_host(recorded: str) -> bool:
    return bool(recorded) and recorded.split(".", 1)[0] == socket.gethostname().split(".", 1)[0]


def resolve_process(evidence: Evidence, run_dir: Path) -> Target:
    """The manifest's pid, if it is the same process on this host and it ties itself to ``run_dir``."""
    pid = evidence.pid
    if pid <= 1:
        return Target("none", how="no SLURM_JOB_ID or pid in the manifest")
    if not _same_host(evidence.host):
        return Target("none", how=f"pid {pid} ran on another host ({evidence.host or 'not recorded'})")
    stat = proc_stat(pid)
    if stat is None:
        return Target("none", how=f"pid {pid} no longer exists")
    if not _same_start(evidence, stat[0]):
        return Target("none", how=f"pid {pid} is a different process now (start time differs)")
    tie = process_tie(pid, run_dir, evidence.token)
    if tie is None:
        why = "neither holds the run's log open for writing nor carries its token"
        return Target("none", how=f"{MISMATCH}pid {pid} {why}")
    return Target("process", pid=pid, start_ticks=stat[0], how=f"pid from manifest, start time verified, {tie}")


def verify_job(
    slurm: Slurm, job_id: str, run_dir: Path, run_name: str, *, how: str, token: str = "", by_name: bool = False
) -> Target:
    """A Slurm target for ``job_id`` only if Slurm's record ties the job to ``run_dir`` (see :mod:`.evidence`).

    A job that has left the queue stays a target: the ownership check then finds nothing to do."""
    record = slurm.record(job_id)
    if record is None:
        return Target("slurm", job_id=job_id, how=how)
    tie = slurm_tie(record, run_dir, run_name, token, by_name)
    if tie is None:
        where = f"WorkDir {record.workdir or '?'}, StdOut {record.stdout or '?'}"
        return Target("none", how=f"{MISMATCH}job {job_id} is not tied to {run_dir} by Slurm ({where})")
    return Target("slurm", job_id=job_id, how=f"{how}; {tie}")


def matches(job: SlurmJob, run_dir: Path, run_name: str, match_by: tuple[str, ...]) -> bool:
    values = {"workdir": job.workdir, "name": job.name, "comment": job.comment}
    wanted = {str(run_dir), run_name}
    return any(values[key] in wanted for key in match_by if key in values)


def resolve_squeue(slurm: Slurm, run_dir: Path, run_name: str, match_by: tuple[str, ...]) -> Target:
    jobs = [j for j in slurm.squeue(me=True) if j.active and matches(j, run_dir, run_name, match_by)]
    if len(jobs) == 1:
        return Target("slurm", job_id=jobs[0].job_id, how=f"squeue --me matched by {'/'.join(match_by)}")
    if not jobs:
        return Target("none", how=f"no job of yours matches by {'/'.join(match_by)}")
    ids = ", ".join(sorted((j.job_id for j in jobs), key=lambda i: (len(i), i)))
    return Target("none", how=f"{len(jobs)} jobs match ({ids}); not guessing")


def resolve(
    run_dir: Path, run_name: str, slurm: Slurm, match_by: tuple[str, ...] = (), uid: int | None = None
) -> Target:
    """The target for a run; a Slurm failure while matching raises SlurmError (the caller retries)."""
    if match_by and set(match_by) - set(MATCH_KEYS):
        unknown = sorted(set(match_by) - set(MATCH_KEYS))
        raise SlurmError("config", f"[actions] match_by: unknown {unknown}; use {', '.join(MATCH_KEYS)}")
    try:
        evidence = read_evidence(run_dir, os.getuid() if uid is None else uid)
    except Untrusted as exc:
        return Target("none", how=f"{MISMATCH}{exc}")
    by_name = "name" in match_by
    if evidence.job_id:
        how = "SLURM_JOB_ID from the run manifest"
        return verify_job(slurm, evidence.job_id, run_dir, run_name, how=how, token=evidence.token, by_name=by_name)
    if evidence == Evidence():  # no manifest: a run known only by its stdout
        tied = stdout_jobs(run_dir, slurm)
        if len(tied) == 1:
            return Target("slurm", job_id=tied[0], how="job id in the stdout file name, confirmed by Slurm's StdOut")
        if len(tied) > 1:
            return Target("none", how=f"{len(tied)} jobs write this run's stdout ({', '.join(tied)}); not guessing")
    if match_by:
        target = resolve_squeue(slurm, run_dir, run_name, match_by)
        if target.kind == "slurm":
            return verify_job(
                slurm, target.job_id, run_dir, run_name, how=target.how, token=evidence.token, by_name=by_name
            )
        if not evidence.pid:
            return target
    return resolve_process(evidence, run_dir)
