"""``squeue`` and ``scancel`` behind timeouts, retries with backoff and strict parsing.

Every failure becomes a :class:`SlurmError` whose ``kind`` says what happened — ``missing`` (command not
installed), ``failed`` (non-zero exit), ``slow`` (timed out), ``garbage`` (output we cannot parse) — and
whose message says what to do. Nothing here raises anything else for a Slurm problem.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rankinv.errors import RankinvError
from rankinv.slurmjob import (
    GONE_STATES,
    JOB_ID,
    SEP,
    SlurmJob,
    SlurmParseError,
    parse_sacct,
    squeue_format,
)
from rankinv.slurmjob import parse_squeue as parse_fields

__all__ = ["GONE_STATES", "SEP", "Slurm", "SlurmError", "SlurmJob", "parse_squeue"]

RECORD_FIELDS = ("JobID", "UserID", "UserName", "State", "Name", "WorkDir", "STDOUT", "STDERR", "Comment")
POLL_FIELDS = ("JobID", "State", "TimeUsed", "NodeList")  # what the job column shows


class SlurmError(RankinvError):
    """A Slurm command that is missing, failing, slow or returned garbage."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def parse_squeue(text: str, fields: Sequence[str] = RECORD_FIELDS) -> list[SlurmJob]:
    """``squeue -h -O`` output in ``fields`` order; anything unexpected is ``garbage``."""
    try:
        return parse_fields(text, fields)
    except SlurmParseError as exc:
        raise SlurmError("garbage", str(exc)) from None


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

    def _squeue(self, argv: list[str], fields: Sequence[str]) -> list[SlurmJob]:
        result = self.run(["squeue", "-h", "-O", squeue_format(fields), *argv],
                          ok=lambda a: a.returncode == 0 or _unknown_job(a))  # fmt: skip
        return [] if _unknown_job(result) else parse_squeue(result.stdout, fields)

    def squeue(self, job_ids: Sequence[str] = (), me: bool = False) -> list[SlurmJob]:
        """Slurm's record (:data:`RECORD_FIELDS`) of the queued jobs: ``job_ids``, or the user's own."""
        return self._squeue([*(["--me"] if me else []), *([f"--jobs={','.join(job_ids)}"] if job_ids else [])],
                            RECORD_FIELDS)  # fmt: skip

    def job(self, job_id: str) -> SlurmJob | None:
        """The job, or None once it has left the queue."""
        return self.record(job_id)

    def record(self, job_id: str) -> SlurmJob | None:
        """Slurm's record of one job (owner, working directory, output files, comment), or None once it has left."""
        if not JOB_ID.match(job_id):
            raise SlurmError("garbage", f"{job_id!r} is not a Slurm job id")
        return next((r for r in self.squeue([job_id]) if r.job_id == job_id and r.active), None)

    def poll(self, job_ids: Sequence[str]) -> list[SlurmJob]:
        """State, elapsed time and node of every job in ``job_ids`` still known to the controller (finished ones
        too, for a while): one ``squeue`` call for all of them."""
        ids = [j for j in job_ids if JOB_ID.match(j)]
        return self._squeue(["-t", "all", f"--jobs={','.join(ids)}"], POLL_FIELDS) if ids else []

    def accounting(self, job_ids: Sequence[str]) -> list[SlurmJob]:
        """Final state, elapsed time and node of jobs that have left the controller, from accounting (``sacct``,
        one call for all); a Slurm without accounting is a ``failed`` error."""
        ids = [j for j in job_ids if JOB_ID.match(j)]
        if not ids:
            return []
        fields = ("JobID", "State", "Elapsed", "NodeList")
        result = self.run(["sacct", "-n", "-P", "-X", f"--delimiter={SEP}", "-o", ",".join(fields),
                           f"--jobs={','.join(ids)}"])  # fmt: skip
        try:
            return parse_sacct(result.stdout, fields)
        except SlurmParseError as exc:
            raise SlurmError("garbage", str(exc)) from None

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
