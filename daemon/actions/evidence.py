"""Does the job (or process) itself tie it to the run? Only evidence a planted file cannot fake counts.

A manifest's word is not enough: anyone with write access to the runs root can copy an unrelated job id or
pid into one. So a target is acted on only when the target itself says it belongs to the run:

* a Slurm job, by Slurm's own record (``squeue``): its working directory is the run directory (or below it),
  its stdout/stderr file is written there, or its comment is the run directory or the run's token; its name
  equal to the run name counts only when ``[actions] match_by`` includes ``name`` (names are easy to copy);
* a local process, by ``/proc``: it holds the run's callback log (``rankinv.jsonl`` in the run directory) open
  for writing, as the TRL callback does for the whole training, or its environment carries the run's token and
  directory (``RANKINV_RUN_TOKEN``/``RANKINV_RUN_DIR``, set by a launcher before the process started:
  ``/proc/PID/environ`` shows only the environment a process was started with).

Each check returns the tie in words, or None. :func:`slurm_tie` and :func:`process_tie` are the public API.
"""

from __future__ import annotations

import os
from pathlib import Path

from rankinv.ingest.sources import CALLBACK_LOG_NAME
from rankinv.integrations.trl import RUN_DIR_ENV, TOKEN_ENV
from rankinv.slurmjob import SlurmJob

WRITE_MODES = (os.O_WRONLY, os.O_RDWR)


def _real(path: str | Path) -> str:
    return os.path.realpath(path)


def inside(path: str, run_dir: Path) -> bool:
    """``path`` is the run directory or below it (symlinks resolved on both sides)."""
    if not path or not os.path.isabs(path):
        return False
    root, real = _real(run_dir), _real(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def expand_pattern(path: str, job: SlurmJob) -> str:
    """Slurm's filename pattern (``%j``, ``%x``, ``%u``, ``%%``) filled in; unknown patterns are left as-is."""
    subs = {"j": job.job_id.split("_")[0], "A": job.job_id.split("_")[0], "x": job.name, "u": job.user, "%": "%"}
    out, i = [], 0
    while i < len(path):
        if path[i] == "%" and i + 1 < len(path) and path[i + 1] in subs:
            out.append(subs[path[i + 1]])
            i += 2
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def slurm_tie(job: SlurmJob, run_dir: Path, run_name: str, token: str = "", by_name: bool = False) -> str | None:
    """How Slurm's own record of ``job`` ties it to ``run_dir``, or None when nothing does."""
    if inside(job.workdir, run_dir):
        return "Slurm's WorkDir is the run directory"
    for label, pattern in (("StdOut", job.stdout), ("StdErr", job.stderr)):
        path = expand_pattern(pattern, job)
        if path and inside(os.path.dirname(path), run_dir):
            return f"Slurm's {label} is in the run directory"
    if job.comment and (job.comment == token or (os.path.isabs(job.comment) and _real(job.comment) == _real(run_dir))):
        return "the job's comment names the run"
    if by_name and job.name == run_name:
        return "the job's name is the run name (match_by = name)"
    return None


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _writes(pid: int, fd: str) -> bool:
    try:
        text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
    except OSError:
        return False
    flags = next((line.split()[1] for line in text.splitlines() if line.startswith("flags:")), "0")
    return int(flags, 8) & os.O_ACCMODE in WRITE_MODES


def holds_for_writing(pid: int, path: Path) -> bool:
    """The process has ``path`` (this very file: same device and inode) open for writing."""
    try:
        want = os.stat(path, follow_symlinks=False)
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            held = os.stat(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if (held.st_dev, held.st_ino) == (want.st_dev, want.st_ino) and _writes(pid, fd):
            return True
    return False


def process_tie(pid: int, run_dir: Path, token: str = "") -> str | None:
    """How process ``pid`` itself ties it to ``run_dir``, or None when nothing does."""
    if holds_for_writing(pid, run_dir / CALLBACK_LOG_NAME):
        return f"it has {CALLBACK_LOG_NAME} open for writing"
    env = _environ(pid)
    named = env.get(RUN_DIR_ENV, "")
    if token and env.get(TOKEN_ENV) == token and os.path.isabs(named) and _real(named) == _real(run_dir):
        return f"its environment holds the run's {TOKEN_ENV}"
    return None
