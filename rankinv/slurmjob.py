"""Slurm's record of a job, and one parser per format Slurm prints jobs in.

One record type for every reader: the actions (who owns a job, where it works and writes), the stdout reader
(which job wrote a log) and the job poller (state, node, elapsed for the job column). ``squeue -O`` output is
read field by field between :data:`SEP` separators (a person cannot type one into a job name or path);
``scontrol show job -o`` output is ``Key=value`` words on one line per job; ``sacct -P`` output is
read between :data:`SEP` separators too. Pure: no Slurm command is run here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SEP = "\x1f"  # unit separator: cannot appear in a job name, path or comment typed by a person
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
JOB_ID = re.compile(r"^\d+(_\d+)?$")
_ELAPSED = re.compile(r"^(?:(?:(\d+)-)?(\d+):)?(\d+):(\d+)(?:\.\d+)?$")
_SCONTROL_KEY = re.compile(r"(?:^|\s)([A-Za-z][\w:/]*)=")
_UID = re.compile(r"^[^(]*\((\d+)\)$")


class SlurmParseError(ValueError):
    """A line of Slurm output that is not what rankinv asked for (the client reports it as ``garbage``)."""


@dataclass(frozen=True)
class SlurmJob:
    """What Slurm says about one job. Empty strings for fields the command did not print or Slurm left unset;
    ``stdout``/``stderr`` as Slurm printed them (``squeue`` gives the submitted pattern, ``%j`` not filled in;
    ``scontrol`` the expanded path); ``elapsed`` in seconds."""

    job_id: str
    uid: int | None = None
    user: str = ""
    state: str = ""
    name: str = ""
    workdir: str = ""
    stdout: str = ""
    stderr: str = ""
    comment: str = ""
    node: str = ""
    elapsed: float | None = None

    @property
    def active(self) -> bool:
        return self.state not in GONE_STATES


def elapsed_seconds(text: str) -> float | None:
    """``1-02:03:04``, ``02:03:04``, ``3:04`` (Slurm's time formats) in seconds; None for anything else."""
    match = _ELAPSED.match(text.strip())
    if match is None:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def _unset(value: str) -> str:
    return "" if value in ("(null)", "N/A") else value


# squeue -O field name → SlurmJob attribute.
SQUEUE_FIELDS = {
    "JobID": "job_id", "UserID": "uid", "UserName": "user", "State": "state", "Name": "name", "WorkDir": "workdir",
    "STDOUT": "stdout", "STDERR": "stderr", "Comment": "comment", "NodeList": "node", "TimeUsed": "elapsed",
}  # fmt: skip


def squeue_format(fields: Sequence[str]) -> str:
    """The ``squeue -O`` argument that prints ``fields`` unpadded, each ended by :data:`SEP`."""
    return ",".join(f"{name}:0{SEP}" for name in fields)


def parse_squeue(text: str, fields: Sequence[str]) -> list[SlurmJob]:
    """Parse ``squeue -h -O`` output printed with :func:`squeue_format`; anything unexpected raises."""
    jobs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(SEP)]
        if len(parts) != len(fields) + 1 or parts[-1]:
            raise SlurmParseError(f"squeue printed a line rankinv cannot parse: {line[:120]!r}")
        values = dict(zip((SQUEUE_FIELDS[f] for f in fields), parts, strict=False))
        jobs.append(_job(values, line))
    return jobs


EVIDENCE_KEYS = ("JobId", "UserId", "JobState", "WorkDir", "StdOut", "StdErr", "NodeList", "RunTime")


def parse_show_job(text: str) -> list[SlurmJob]:
    """Parse ``scontrol show job -o`` output (one job per line). A value runs to the next `` Key=``. A job name,
    comment or command line may itself hold `` WorkDir=…``: a line where one of :data:`EVIDENCE_KEYS` appears
    twice cannot be read safely and raises (no evidence is better than forged evidence)."""
    jobs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        keys = list(_SCONTROL_KEY.finditer(line))
        if not keys or keys[0][1] != "JobId":
            raise SlurmParseError(f"scontrol printed a line rankinv cannot parse: {line[:120]!r}")
        names = [k[1] for k in keys]
        if any(names.count(k) > 1 for k in EVIDENCE_KEYS):
            raise SlurmParseError(f"scontrol printed a job whose fields cannot be told apart: {line[:120]!r}")
        fields = {}
        for here, after in zip(keys, [*keys[1:], None], strict=True):
            fields[here[1]] = line[here.end() : after.start() if after else len(line)].strip()
        uid = _UID.match(fields.get("UserId", ""))
        values = {
            "job_id": fields["JobId"], "uid": uid[1] if uid else "", "user": fields.get("UserId", "").split("(")[0],
            "state": fields.get("JobState", ""), "name": fields.get("JobName", ""),
            "workdir": fields.get("WorkDir", ""), "stdout": fields.get("StdOut", ""),
            "stderr": fields.get("StdErr", ""), "comment": fields.get("Comment", ""),
            "node": fields.get("NodeList", ""), "elapsed": fields.get("RunTime", ""),
        }  # fmt: skip
        jobs.append(_job(values, line))
    return jobs


# sacct -o field name → SlurmJob attribute.
SACCT_FIELDS = {"JobID": "job_id", "UID": "uid", "User": "user", "JobName": "name", "State": "state",
                "Elapsed": "elapsed", "NodeList": "node", "WorkDir": "workdir", "StdOut": "stdout"}  # fmt: skip


def parse_sacct(text: str, fields: Sequence[str]) -> list[SlurmJob]:
    """Parse ``sacct -n -P -X --delimiter=SEP -o`` output in ``fields`` order (a job name or path may hold ``|``;
    a state may read ``CANCELLED by 1000``: its first word is the state)."""
    jobs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(SEP)
        if len(parts) != len(fields):
            raise SlurmParseError(f"sacct printed a line rankinv cannot parse: {line[:120]!r}")
        values = {SACCT_FIELDS[f]: v for f, v in zip(fields, parts, strict=True)}
        words = values.get("state", "").split()
        values["state"] = words[0] if words else ""
        jobs.append(_job(values, line))
    return jobs


def _job(values: dict[str, str], line: str) -> SlurmJob:
    job_id, uid = values.get("job_id", ""), values.get("uid", "")
    if not JOB_ID.match(job_id) or (uid and not uid.isdigit()):
        raise SlurmParseError(f"Slurm printed a line rankinv cannot parse: {line[:120]!r}")
    text = {k: _unset(v) for k, v in values.items() if k not in ("job_id", "uid", "elapsed")}
    return SlurmJob(job_id, int(uid) if uid else None, elapsed=elapsed_seconds(values.get("elapsed", "")), **text)
