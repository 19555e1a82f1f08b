"""``squeue`` and ``scancel`` behind timeouts, retries with backoff and strict parsing.

Every failure becomes a :class:`SlurmError` whose ``kind`` says what happened — ``missing`` (command not
installed), ``failed`` (non-zero exit), ``slow`` (timed out), ``garbage`` (output we cannot parse) — and
whose message says what to do. Nothing here raises anything else for a Slurm problem.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rankinv.errors import RankinvError

SEP = "\x1f"  # unit separator: cannot appear in a job name, path or comment typed by a person
FIELDS = ("%i", "%U", "%u", "%T", "%j", "%Z", "%k")
GONE_STATES = frozenset(
    {
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)
_JOB_ID = re.compile(r"^\d+(_\d+)?$")


class SlurmError(RankinvError):
    """A Slurm command that is missing, failing, slow or returned garbage."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SlurmJob:
    """One line of ``squeue``."""

    job_id: str
    uid: int
    user: str
    state: str
    name: str
    workdir: str
    comment: str

    @property
    def active(self) -> bool:
        return self.state not in GONE_STATES


def parse_squeue(text: str) -> list[SlurmJob]:
    """Parse ``squeue -h -o`` output in :data:`FIELDS` order; anything unexpected is ``garbage``."""
    jobs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(SEP)
        if len(parts) != len(FIELDS) or not _JOB_ID.match(parts[0]) or not parts[1].isdigit():
            raise SlurmError("garbage", f"squeue printed a line rankinv cannot parse: {line[:120]!r}")
        comment = "" if parts[6] == "(null)" else parts[6]
        jobs.append(SlurmJob(parts[0], int(parts[1]), parts[2], parts[3], parts[4], parts[5], comment))
    return jobs


RECORD_FIELDS = ("JobID", "UserID", "UserName", "State", "Name", "WorkDir", "STDOUT", "STDERR", "Comment")


@dataclass(frozen=True)
class JobRecord:
    """Slurm's own record of a job: who owns it and where it works and writes (the evidence of whose run it is).

    ``stdout``/``stderr`` are the patterns as submitted (``%j`` not yet filled in); empty when not set."""

    job_id: str
    uid: int
    user: str
    state: str
    name: str
    workdir: str
    stdout: str
    stderr: str
    comment: str

    @property
    def active(self) -> bool:
        return self.state not in GONE_STATES


def _unset(value: str) -> str:
    return "" if value in ("(null)", "N/A") else value


def parse_records(text: str) -> list[JobRecord]:
    """Parse ``squeue -h -O`` output in :data:`RECORD_FIELDS` order, each field ended by :data:`SEP`."""
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(SEP)]
        if len(parts) != len(RECORD_FIELDS) + 1 or not _JOB_ID.match(parts[0]) or not parts[1].isdigit():
            raise SlurmError("garbage", f"squeue printed a line rankinv cannot parse: {line[:120]!r}")
        job_id, uid, user, state, name, workdir, out, err, comment = parts[:-1]
        paths = (_unset(out), _unset(err), _unset(comment))
        records.append(JobRecord(job_id, int(uid), user, state, name, workdir, *paths))
    return records


@dataclass(frozen=True)
class Attempt:
    """One command run: what it printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str


def _succeeded(attempt: Attempt) -> bool:
    return attempt.returncode == 0


class Slurm:
    """The Slurm client commands, found on ``env["PATH"]``; ``SLURM_CONF`` in ``env`` picks the cluster."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.env = dict(os.environ if env is None else env)
        self.timeout, self.retries, self.backoff, self.sleep = timeout, max(1, retries), backoff, sleep

    def _exe(self, name: str) -> str:
        exe = shutil.which(name, path=self.env.get("PATH"))
        if exe is None:
            raise SlurmError("missing", f"`{name}` not found on PATH: is Slurm installed and loaded on this host?")
        return exe

    def _once(self, argv: Sequence[str]) -> Attempt:
        try:
            proc = subprocess.run(
                [self._exe(argv[0]), *argv[1:]],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=self.env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SlurmError("slow", f"`{' '.join(argv)}` did not answer in {self.timeout:g} s") from None
        except OSError as exc:
            raise SlurmError("missing", f"cannot run `{argv[0]}`: {exc.strerror or exc}") from None
        return Attempt(proc.returncode, proc.stdout, proc.stderr)

    def run(self, argv: Sequence[str], ok: Callable[[Attempt], bool] = _succeeded) -> Attempt:
        """Run with retries and doubling backoff; the last error is raised with the attempt count."""
        error = SlurmError("failed", "not run")
        retries = self.retries
        for attempt in range(1, retries + 1):
            try:
                result = self._once(argv)
            except SlurmError as exc:
                error = exc
            else:
                if ok(result):
                    return result
                detail = (result.stderr or result.stdout).strip()[-300:] or "no output"
                error = SlurmError("failed", f"`{' '.join(argv)}` exited {result.returncode}: {detail}")
            if error.kind == "missing" or attempt == retries:
                break
            self.sleep(self.backoff * 2 ** (attempt - 1))
        raise SlurmError(error.kind, f"{error} (after {attempt} attempt{'s' if attempt > 1 else ''})")

    def squeue(self, job_ids: Sequence[str] = (), me: bool = False) -> list[SlurmJob]:
        argv = ["squeue", "-h", "-o", SEP.join(FIELDS)]
        if me:
            argv.append("--me")
        if job_ids:
            argv.append("--jobs=" + ",".join(job_ids))
        result = self.run(argv, ok=lambda a: a.returncode == 0 or _unknown_job(a))
        return [] if _unknown_job(result) else parse_squeue(result.stdout)

    def job(self, job_id: str) -> SlurmJob | None:
        """The job, or None once it has left the queue."""
        for job in self.squeue([job_id]):
            if job.job_id == job_id:
                return job if job.active else None
        return None

    def record(self, job_id: str) -> JobRecord | None:
        """Slurm's record of one job (owner, working directory, output files, comment), or None once it has left."""
        if not _JOB_ID.match(job_id):
            raise SlurmError("garbage", f"{job_id!r} is not a Slurm job id")
        fmt = ",".join(f"{name}:0{SEP}" for name in RECORD_FIELDS)
        argv = ["squeue", "-h", "-O", fmt, f"--jobs={job_id}"]
        result = self.run(argv, ok=lambda a: a.returncode == 0 or _unknown_job(a))
        found = [] if _unknown_job(result) else parse_records(result.stdout)
        return next((r for r in found if r.job_id == job_id and r.active), None)

    def scancel(self, job_id: str, signal: str | None = None, batch: bool = False) -> None:
        argv = ["scancel"]
        if signal:
            argv.append(f"--signal={signal}")
        if batch:
            argv.append("--batch")
        self.run([*argv, job_id], ok=lambda a: a.returncode == 0 or _already_done(a))



def _unknown_job(attempt: Attempt) -> bool:
    return attempt.returncode != 0 and "Invalid job id" in attempt.stderr


def _already_done(attempt: Attempt) -> bool:
    text = attempt.stderr
    return "already completing or completed" in text or "Invalid job id" in text
