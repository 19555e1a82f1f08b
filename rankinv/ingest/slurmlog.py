"""Which Slurm job wrote a stdout file, and which run directory it belongs to — from evidence only.

A file name like ``slurm-4242.out`` or ``logs/grpo-4242.out`` (``#SBATCH --output=logs/%x-%j.out``) suggests a
job id; it is only *evidence input*: Slurm confirms it when ``scontrol show job`` (or ``sacct`` once the job has
left the controller's memory) reports that job's ``StdOut`` as this very file. The confirmed job's ``WorkDir``,
or an output directory the log itself prints, says which run the file belongs to. Nothing is guessed from names
alone. Lookups are cached briefly: discovery may ask about every log on each scan.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from rankinv.slurmjob import SEP, SlurmJob, SlurmParseError, parse_sacct, parse_show_job

_JOB_IN_NAME = re.compile(r"(?:^|[-_.])(?P<id>\d+)(?:_\d+)?\.(?:out|log|err|stdout)$")
_PRINTED_DIR = re.compile(
    r"(?:Saving model checkpoint to|output_dir['\"]?\s*[:=]\s*['\"]?)\s*(?P<path>/[^\s'\",}]+)"
)  # fmt: skip
TIMEOUT_S = 5.0
CACHE_S = 30.0
HEAD_BYTES = 64 << 10


def job_id_from_name(path: Path) -> str | None:
    """The job id a stdout file's name carries (``slurm-%j.out``, ``%x-%j.out``), or None."""
    match = _JOB_IN_NAME.search(path.name)
    return match["id"] if match else None


_cache: dict[str, tuple[float, SlurmJob | None]] = {}
_slow_until = [0.0]  # after a Slurm command timed out, skip lookups for a while: a scan must never stall on it


def lookup(job_id: str, env: dict[str, str] | None = None) -> SlurmJob | None:
    """Slurm's record of a job (``scontrol show job``, then ``sacct``); None when Slurm is absent, slow or forgot
    it."""
    now = time.monotonic()
    key = f"{(env or {}).get('SLURM_CONF', os.environ.get('SLURM_CONF', ''))}:{job_id}"
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_S:
        return hit[1]
    if now < _slow_until[0]:
        return None
    info = _scontrol(job_id, env) or _sacct(job_id, env)
    _cache[key] = (now, info)
    return info


def _run(argv: list[str], env: dict[str, str] | None) -> str | None:
    environ = dict(os.environ if env is None else env)
    exe = shutil.which(argv[0], path=environ.get("PATH"))
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=TIMEOUT_S, env=environ,
                              check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired:
        _slow_until[0] = time.monotonic() + CACHE_S
        return None
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None


def _scontrol(job_id: str, env: dict[str, str] | None) -> SlurmJob | None:
    out = _run(["scontrol", "show", "job", "-o", job_id], env)
    try:
        jobs = parse_show_job(out or "")
    except SlurmParseError:
        return None
    return next((j for j in jobs if j.job_id == job_id), None)


def _sacct(job_id: str, env: dict[str, str] | None) -> SlurmJob | None:
    """sacct knows WorkDir (and, in newer Slurm, StdOut) after the job left the controller; without accounting, or
    on a Slurm whose sacct has no StdOut field (22.05 has none: sacct refuses the query), it says nothing."""
    fields = ("JobID", "UID", "User", "JobName", "WorkDir", "StdOut")
    out = _run(["sacct", "-n", "-P", "-X", f"--delimiter={SEP}", "-j", job_id, "-o", ",".join(fields)], env)
    try:
        job = next((j for j in parse_sacct(out or "", fields) if j.job_id == job_id), None)
    except SlurmParseError:
        return None
    if job is None:
        return None
    path = expand_pattern(job.stdout, job_id, job.name, job.user)
    if path and job.workdir and not os.path.isabs(path):
        path = os.path.join(job.workdir, path)
    return dataclasses.replace(job, stdout=path)


_PATTERN = re.compile(r"%(?:%|\d*[jxuA])")


def expand_pattern(text: str, job_id: str, name: str, user: str) -> str:
    """sacct prints StdOut as given to sbatch (``logs/%x-%j.out``); fill in the patterns that name the file from
    what sacct printed: ``%j`` job id, ``%A`` (the same for a job that is not an array), ``%x`` job name, ``%u``
    user, ``%%``. Any other pattern (``%N`` node, ``%a`` array task) is left as it is, so such a file is never
    confirmed."""

    def fill(match: re.Match[str]) -> str:
        code = match[0]
        if code == "%%":
            return "%"
        width, kind = code[1:-1], code[-1]
        value = {"j": job_id, "A": job_id, "x": name, "u": user}[kind]
        return value.zfill(int(width)) if width and value.isdigit() else value

    return _PATTERN.sub(fill, text)


def confirmed_job(log: Path, env: dict[str, str] | None = None) -> SlurmJob | None:
    """The job that wrote ``log``: the id from its name, confirmed by Slurm's StdOut being this very file."""
    job_id = job_id_from_name(log)
    if job_id is None:
        return None
    info = lookup(job_id, env)
    if info is None or not info.stdout or not _same_file(Path(info.stdout), log):
        return None
    return info


def printed_output_dir(log: Path) -> Path | None:
    """An output directory the log prints (``Saving model checkpoint to …``, ``output_dir=…``), if any."""
    try:
        with log.open("rb") as f:
            head = f.read(HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    match = _PRINTED_DIR.search(head)
    if match is None:
        return None
    path = Path(match["path"])
    return path.parent if re.match(r"^checkpoint-\d+$", path.name) else path


def owner_dir(log: Path, env: dict[str, str] | None = None) -> tuple[Path, str] | None:
    """The directory a stdout file belongs to, and the evidence: Slurm's WorkDir, or the printed output dir."""
    job = confirmed_job(log, env)
    if job is not None and job.workdir:
        return Path(job.workdir), f"Slurm job {job.job_id} (StdOut is this file, WorkDir)"
    printed = printed_output_dir(log)
    return (printed, "output directory printed in the log") if printed is not None else None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:
        return False
