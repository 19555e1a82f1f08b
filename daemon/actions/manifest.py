"""The run manifest as evidence for an action: read only from a file the user owns, and only fields of the right type.

The manifest lives in a shared runs root, so anyone with write access there can plant or replace it. Before
any of its fields is used to pick a process or a job, the file must be a regular file (not a symlink, FIFO or
device), owned by the user the daemon runs as, of bounded size, and valid JSON whose fields have the types the
TRL callback writes. Anything else raises :class:`Untrusted` with the reason, which the caller turns into an
alert ("evidence does not match: …"), never an action.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankinv.ingest.sources import MANIFEST_NAME

MAX_BYTES = 1 << 20
JOB_ID = re.compile(r"^\d+(_\d+)?$")
JOB_FIELDS = ("SLURM_JOB_ID", "slurm_job_id", "job_id")
TOKEN = re.compile(r"^[0-9A-Za-z_-]{16,128}$")


class Untrusted(Exception):
    """The manifest cannot be used as evidence; the message says why."""


@dataclass(frozen=True)
class Evidence:
    """What a trusted manifest claims; every field already type-checked (empty/0/None: not given)."""

    job_id: str = ""
    pid: int = 0
    host: str = ""
    start_ticks: int | None = None
    start_time: float | None = None
    token: str = ""


def read_bytes(path: Path, uid: int) -> bytes | None:
    """The file's bytes if it is a regular file owned by ``uid``; None when absent; :class:`Untrusted` otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Untrusted(f"{path.name} is a symlink") from None
        raise Untrusted(f"{path.name} cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Untrusted(f"{path.name} is not a regular file")
        if info.st_uid != uid:
            raise Untrusted(f"{path.name} is owned by uid {info.st_uid}, not uid {uid}")
        if info.st_size > MAX_BYTES:
            raise Untrusted(f"{path.name} is {info.st_size} bytes (more than {MAX_BYTES})")
        return os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Untrusted(f"field {key!r} is {type(value).__name__}, not an object")
    return value


def _pick(data: dict[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    """The first present, non-empty field among ``names`` at the top level or in slurm/env/process tables."""
    for table in (data, *(_table(data, k) for k in ("slurm", "env", "process"))):
        for name in names:
            if table.get(name) not in (None, ""):
                return name, table[name]
    return names[0], None


def _int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise Untrusted(f"field {name!r} = {_show(value)} is not a non-negative integer")
    return value


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise Untrusted(f"field {name!r} = {_show(value)} is not a finite non-negative number")
    return float(value)


def _text(name: str, value: Any, pattern: re.Pattern[str] | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and pattern is JOB_ID:
        value = str(value)
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value.strip())):
        raise Untrusted(f"field {name!r} = {_show(value)} is not a valid {'job id' if pattern is JOB_ID else 'value'}")
    return value.strip()


def _show(value: Any) -> str:
    return ascii(value)[:60]


def parse(raw: bytes) -> Evidence:
    """Schema-check a manifest's bytes; :class:`Untrusted` names the first bad field."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Untrusted(f"not valid JSON ({exc})") from None
    return evidence(data)


def evidence(data: Any) -> Evidence:
    """Schema-check a manifest already decoded from JSON (as :func:`parse` does after decoding it)."""
    if not isinstance(data, dict):
        raise Untrusted(f"a JSON {type(data).__name__}, not an object")
    fields = {
        "job": _pick(data, JOB_FIELDS),
        "pid": _pick(data, ("pid",)),
        "host": _pick(data, ("host", "hostname")),
        "ticks": _pick(data, ("pid_start_ticks", "start_ticks", "process_start_ticks")),
        "time": _pick(data, ("pid_start_time", "process_start_time", "start_time")),
        "token": _pick(data, ("run_token",)),
    }
    return Evidence(
        job_id=_text(*fields["job"], JOB_ID),
        pid=_int(*fields["pid"]) or 0,
        host=_text(*fields["host"]),
        start_ticks=_int(*fields["ticks"]),
        start_time=_number(*fields["time"]),
        token=_text(*fields["token"], TOKEN),
    )


def job_id(data: Any) -> str:
    """``evidence(data).job_id``, "" when a field cannot be trusted; a manifest naming no job is not checked
    further (its answer is "" either way: most runs name none, and the whole check costs 40 µs)."""
    try:
        if isinstance(data, dict) and _pick(data, JOB_FIELDS)[1] is None:
            return ""
        return evidence(data).job_id
    except (Untrusted, TypeError, ValueError):
        return ""


def read_evidence(run_dir: Path, uid: int | None = None) -> Evidence:
    """The trusted manifest of ``run_dir`` (empty :class:`Evidence` when there is none); :class:`Untrusted`
    when the file or a field cannot be trusted."""
    raw = read_bytes(run_dir / MANIFEST_NAME, os.getuid() if uid is None else uid)
    if raw is None:
        return Evidence()
    try:
        return parse(raw)
    except Untrusted as exc:
        raise Untrusted(f"{MANIFEST_NAME}: {exc}") from None
