"""Which job or process is this run? Found from evidence, never guessed.

1. ``SLURM_JOB_ID`` in the run manifest ``rankinv-run.json``; for a run without a manifest, the one job Slurm
   ties to the run's stdout file (:mod:`~rankinv.daemon.actions.stdout_job`: the job id in the file name,
   confirmed by Slurm's StdOut).
2. Otherwise, if configured (``[actions] match_by``), exactly one of the user's own jobs (``squeue --me``)
   whose working directory, name or comment equals the run directory or run name. Zero or several
   matches leave the run unresolved: it gets an alert, not an action.
3. A run outside Slurm: the manifest's pid, only if that process still exists on this host with the same
   start time (``/proc/PID/stat`` field 22) — a recycled pid is someone else's process.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankinv.daemon.actions.slurm import Slurm, SlurmError, SlurmJob
from rankinv.daemon.actions.stdout_job import stdout_jobs

from rankinv.ingest.sources import read_manifest

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
        if parts[0] == "process" and len(parts) == 3:
            return cls("process", pid=int(parts[1]), start_ticks=int(parts[2]))
        return cls("none", how=f"unreadable target {text!r}")


def _first(data: dict[str, Any], *names: str) -> Any:
    nested = [data, *(data.get(k) for k in ("slurm", "env", "process"))]
    for table in nested:
        if isinstance(table, dict):
            for name in names:
                if table.get(name) not in (None, ""):
                    return table[name]
    return None


def manifest_job_id(manifest: dict[str, Any]) -> str:
    value = _first(manifest, "SLURM_JOB_ID", "slurm_job_id", "job_id")
    return str(value).strip() if value is not None else ""


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


def _same_start(manifest: dict[str, Any], ticks: int) -> bool:
    recorded = _first(manifest, "pid_start_ticks", "start_ticks", "process_start_ticks")
    if recorded is not None:
        return int(recorded) == ticks
    epoch = _first(manifest, "pid_start_time", "process_start_time", "start_time")
    if epoch is None:
        return False
    started = boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    return abs(float(epoch) - started) < 0.1


def _same_host(recorded: Any) -> bool:
    here = socket.gethostname()
    return recorded is not None and str(recorded).split(".")[0] == here.split(".")[0]


def resolve_process(manifest: dict[str, Any]) -> Target:
    pid = _first(manifest, "pid")
    if not isinstance(pid, int) or pid <= 1:
        return Target("none", how="no SLURM_JOB_ID or pid in the manifest")
    if not _same_host(_first(manifest, "host", "hostname")):
        return Target("none", how=f"pid {pid} ran on another host ({_first(manifest, 'host', 'hostname')})")
    stat = proc_stat(pid)
    if stat is None:
        return Target("none", how=f"pid {pid} no longer exists")
    if not _same_start(manifest, stat[0]):
        return Target("none", how=f"pid {pid} is a different process now (start time differs)")
    return Target("process", pid=pid, start_ticks=stat[0], how="pid from manifest, start time verified")


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


def resolve(run_dir: Path, run_name: str, slurm: Slurm, match_by: tuple[str, ...] = ()) -> Target:
    """The target for a run; a Slurm failure while matching raises SlurmError (the caller retries)."""
    manifest = read_manifest(run_dir)
    job_id = manifest_job_id(manifest)
    if job_id:
        return Target("slurm", job_id=job_id, how="SLURM_JOB_ID from the run manifest")
    tied = [] if manifest else stdout_jobs(run_dir, slurm)  # a run known only by its stdout
    if len(tied) == 1:
        return Target("slurm", job_id=tied[0], how="job id in the stdout file name, confirmed by Slurm's StdOut")
    if len(tied) > 1:
        return Target("none", how=f"{len(tied)} jobs write this run's stdout ({', '.join(tied)}); not guessing")
    if match_by:
        unknown = set(match_by) - set(MATCH_KEYS)
        if unknown:
            raise SlurmError("config", f"[actions] match_by: unknown {sorted(unknown)}; use {', '.join(MATCH_KEYS)}")
        target = resolve_squeue(slurm, run_dir, run_name, match_by)
        if target.kind == "slurm" or _first(manifest, "pid") is None:
            return target
    return resolve_process(manifest)
