"""Where a triage runs for the daemon: the command line of a local ``rankinv triage`` subprocess (which the
daemon runs without blocking, see ``rankinv.daemon.pipeline.triage``), or a Slurm GPU job whose report is
collected later.

The third way — the training job writing the report itself at each save — is
:mod:`rankinv.integrations.triage_on_save`. Every executor ends with the same :class:`TriageReport`.
"""

from __future__ import annotations

import os
import shlex
import string
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rankinv.boundary.atomic import write_atomic
from rankinv.boundary.child import CHILD_CWD
from rankinv.boundary.files import UnsafeFile, open_regular
from rankinv.errors import RankinvError
from rankinv.triage.report import REPORT_FILENAME, TriageReport, read_report

DEFAULT_SLURM_TEMPLATE = """\
#!/bin/bash
#SBATCH --job-name=$job_name
#SBATCH --output=$log
#SBATCH --gres=gpu:1
#SBATCH --time=02:00:00
set -euo pipefail
$command
"""


def triage_argv(checkpoint: str | Path, args: Sequence[str], python: str = sys.executable) -> list[str]:
    """``python -m rankinv triage CHECKPOINT ARGS... --json``."""
    return [python, "-m", "rankinv", "triage", str(checkpoint), *args, "--json"]


def _log_text(path: Path, size: int = 64 << 10) -> str:
    """The last ``size`` bytes of a job's log, if it is a regular file (it lives in the checkpoint folder)."""
    try:
        with open_regular(path) as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - size))
            return f.read(size).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    except (UnsafeFile, OSError) as exc:
        return f"(log not read: {exc})"


def sbatch_safe(path: Path) -> Path:
    """``path`` if it can go into an sbatch script; a newline or other control character would end an
    ``#SBATCH`` line and start a shell command, so such a name is refused, not escaped."""
    text = str(path)
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        raise RankinvError(f"{text!a}: a run or checkpoint name with a newline or other control character "
                           "cannot be triaged with sbatch; rename it (or use triage_executor = local)")
    return path


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class SlurmJob:
    job_id: str
    checkpoint: Path
    report: Path
    log: Path
    script: Path
    submitted_at: float


class SlurmExecutor:
    """Renders an sbatch script from a template, submits it with ``sbatch --parsable``, collects the report.

    Template placeholders (``string.Template``; other ``$VARS`` are left for bash): ``$job_name``,
    ``$log``, ``$command``, ``$checkpoint``, ``$report``, each filled in shell-quoted (write ``$log``, never
    ``"$log"``); names with control characters are refused (:func:`sbatch_safe`). Slurm commands run from
    :data:`CHILD_CWD`, so a job starts there (not in the daemon's folder, where a ``rankinv/`` clone would shadow
    the package ``python -m rankinv`` imports) unless the template sets ``#SBATCH --chdir``.
    """

    def __init__(self, template: str | None = None, python: str = sys.executable,
                 env: Mapping[str, str] | None = None) -> None:
        self.template = template or DEFAULT_SLURM_TEMPLATE
        self.python, self.env = python, dict(env or os.environ)

    @classmethod
    def from_config(cls, template_file: str, python: str = sys.executable,
                    env: Mapping[str, str] | None = None) -> SlurmExecutor:
        if not template_file:
            return cls(None, python, env)
        try:
            return cls(Path(template_file).read_text(encoding="utf-8"), python, env)
        except OSError as exc:
            raise RankinvError(f"[triage] slurm_template {template_file}: cannot read: {exc.strerror}") from None

    def render(self, checkpoint: Path, args: Sequence[str]) -> str:
        """The script: every value shell-quoted; in ``#SBATCH`` lines also ``%`` escaped (Slurm's patterns)."""
        sbatch_safe(checkpoint)
        report = checkpoint / REPORT_FILENAME
        command = shlex.join(triage_argv(checkpoint, [*args, "--output", str(report)], self.python))
        raw = {"job_name": f"rankinv-triage-{checkpoint.name}", "log": str(checkpoint / "rankinv-triage.log"),
               "checkpoint": str(checkpoint), "report": str(report)}  # fmt: skip
        shell = {**{k: shlex.quote(v) for k, v in raw.items()}, "command": command}
        directive = {**{k: shlex.quote(v.replace("%", "%%")) for k, v in raw.items()}, "command": command}
        lines = self.template.splitlines(keepends=True)
        return "".join(
            string.Template(line).safe_substitute(directive if line.lstrip().startswith("#SBATCH") else shell)
            for line in lines
        )

    def submit(self, checkpoint: str | Path, args: Sequence[str] = ()) -> SlurmJob:
        ckpt = Path(checkpoint).resolve()
        sbatch_safe(ckpt)
        script = ckpt / "rankinv-triage.sbatch"
        try:
            write_atomic(script, self.render(ckpt, args))
        except OSError as exc:
            raise RankinvError(f"cannot write {script}: {exc}") from None
        submitted = time.time()
        proc = self._slurm("sbatch", "--parsable", str(script))
        job_id = proc.stdout.strip().split(";")[0]
        if not job_id.isdigit():
            raise RankinvError(f"sbatch returned no job id for {script}: {proc.stdout!r}")
        return SlurmJob(job_id, ckpt, ckpt / REPORT_FILENAME, ckpt / "rankinv-triage.log", script, submitted)

    def finished(self, job: SlurmJob) -> bool:
        """True once the job has left the queue."""
        return self._slurm("squeue", "-h", "-j", job.job_id, "-o", "%T", check=False).stdout.strip() == ""

    def collect(self, job: SlurmJob, timeout_s: float = 3600.0, poll_s: float = 2.0) -> TriageReport:
        """Wait for the job to leave the queue, then read the report it wrote (newer than the submission)."""
        deadline = time.monotonic() + timeout_s
        while not self.finished(job):
            if time.monotonic() > deadline:
                raise RankinvError(f"Slurm job {job.job_id} (triage of {job.checkpoint}) still queued or running "
                                   f"after {timeout_s:.0f} s")
            time.sleep(poll_s)
        if not job.report.exists() or job.report.stat().st_mtime < job.submitted_at - 1:
            log = _log_text(job.log)
            raise RankinvError(f"Slurm job {job.job_id} ended without writing {job.report}; log tail:\n{_tail(log)}")
        return read_report(job.report)

    def _slurm(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=60, check=False,
                                  cwd=CHILD_CWD)
        except FileNotFoundError:
            raise RankinvError(f"{argv[0]} not found: is Slurm installed on this host?") from None
        if check and proc.returncode != 0:
            raise RankinvError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc
