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

from rankinv.boundary.files import UnsafeFile, open_regular
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


def printed_output_dir(log: Path, head: str | None = None) -> Path | None:
    """An output directory the log prints (``Saving model checkpoint to …``, ``output_dir=…``), if any; ``head``:
    the log's first :data:`HEAD_BYTES`, when the caller has read them."""
    head = _head(log, HEAD_BYTES) if head is None else head
    match = _PRINTED_DIR.search(head or "")
    if match is None:
        return None
    path = Path(match["path"])
    return path.parent if re.match(r"^checkpoint-\d+$", path.name) else path


# verl's TensorBoard logger prints where it writes (relative to the trainer's working directory unless
# TENSORBOARD_DIR is absolute), and its config print names the project and experiment that make the default
# ``tensorboard_log/<project>/<experiment>``; Ray prefixes each line with ``(TaskRunner pid=N)``.
_VERL_TB = re.compile(r"Saving tensorboard log to (?P<path>[^\s'\"]+?)\.?[ \t]*$", re.M)
_VERL_NAME = re.compile(r"['\"](?P<key>project_name|experiment_name)['\"]:\s*['\"](?P<value>[^'\"\n]+)['\"]")
_VERL_ARG = re.compile(r"(?:^|\s)trainer\.(?P<key>project_name|experiment_name)=['\"]?(?P<value>[^\s'\"]+)")
# What the first 64 KiB of a verl job's stdout shows before its config print: the script's command line, Ray
# starting, the TaskRunner's prefix. Only such a log is read further.
_VERL_MARKS = ("tensorboard log to", "actor_rollout_ref", "main_ppo", "(TaskRunner pid=", "a local Ray instance",
               "existing Ray cluster")  # fmt: skip
MAX_PRINTED_PATH = 4096  # PATH_MAX: a longer "path" is not one
VERL_HEAD_BYTES = 512 << 10  # the config print can run past HEAD_BYTES in a verl log (Ray's prefixes, warnings)


def _head(log: Path, size: int) -> str | None:
    """The log's first ``size`` bytes as text; None when it is not a regular file we may read (a FIFO never
    blocks the scan: it is refused before it is opened)."""
    try:
        with open_regular(log) as f:
            return f.read(size).decode("utf-8", errors="replace")
    except (OSError, UnsafeFile):
        return None


def printed_verl_dir(log: Path, head: str | None = None) -> Path | None:
    """The TensorBoard folder a verl log says it writes (``Saving tensorboard log to …``), else the default one its
    config print or command line names (``tensorboard_log/<project_name>/<experiment_name>``); as printed, so a
    relative path is relative to the trainer's working directory. None for a log that is not verl's. ``head``:
    the log's first :data:`HEAD_BYTES`, when the caller has read them."""
    head = _head(log, HEAD_BYTES) if head is None else head
    if head is None or not any(mark in head for mark in _VERL_MARKS):
        return None
    head = _head(log, VERL_HEAD_BYTES) or head
    match = _VERL_TB.search(head)
    if match is not None:
        return Path(match["path"]) if len(match["path"]) <= MAX_PRINTED_PATH else None
    names: dict[str, str] = {}
    for found in (*_VERL_NAME.finditer(head), *_VERL_ARG.finditer(head)):
        names.setdefault(found["key"], found["value"])  # the config print first: it is what the trainer used
    if len(names) < 2 or any(v in (".", "..") or "/" in v or len(v) > 255 for v in names.values()):
        return None
    return Path("tensorboard_log", names["project_name"], names["experiment_name"])


def verl_owner(log: Path, workdir: str | None, head: str | None = None) -> tuple[Path, str] | None:
    """The verl TensorBoard folder the log names, where it exists: relative to the confirmed job's WorkDir, else
    to the log's own folder (where Slurm writes ``slurm-%j.out``: the submit directory) or, for a log in a
    ``logs/`` folder, that folder's parent. Two that exist: none (not guessing)."""
    printed = printed_verl_dir(log, head)
    if printed is None:
        return None
    if printed.is_absolute():
        bases: list[Path] = [Path("/")]
    elif workdir:
        bases = [Path(workdir)]
    else:
        bases = [log.parent] + ([log.parent.parent] if log.parent.name in ("logs", "log") else [])
    found = [b / printed for b in bases if _is_dir(b / printed)]
    if len(found) != 1:
        return None
    return found[0], f"verl's TensorBoard folder printed in the log ({printed})"


def _is_dir(path: Path) -> bool:
    """A printed path is data: one too long for the OS, or unreadable, is no folder (never an error)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def owner_dir(log: Path, env: dict[str, str] | None = None) -> tuple[Path, str] | None:
    """The directory a stdout file belongs to, and the evidence: the verl TensorBoard folder the log names, Slurm's
    WorkDir, or the printed output dir."""
    job = confirmed_job(log, env)
    head = _head(log, HEAD_BYTES)
    verl = verl_owner(log, job.workdir if job is not None else None, head)
    if verl is not None:
        return verl
    if job is not None and job.workdir:
        return Path(job.workdir), f"Slurm job {job.job_id} (StdOut is this file, WorkDir)"
    printed = printed_output_dir(log, head)
    return (printed, "output directory printed in the log") if printed is not None else None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:
        return False
