"""Write what discovery found about a run into the store: the run row and its checkpoints."""

from __future__ import annotations

import re

from rankinv.daemon.actions.manifest import job_id as manifest_job_id

from rankinv.discovery import CheckpointInfo, RunInfo
from rankinv.store import Store

KINDS = {"SFT": "sft", "GRPO": "grpo"}
SLURM_ID = re.compile(r"\d{1,12}(_\d{1,8})?")  # a job or array task id; anything else is not recorded


def record_run(store: Store, info: RunInfo) -> list[CheckpointInfo]:
    """Upsert the run (clearing an old error) and every checkpoint; returns the complete checkpoints.

    The Slurm job id the manifest names is recorded for readers (the TUI's job column); it is the manifest's word,
    shown as such; actions still resolve their target from evidence (daemon/actions/resolve.py)."""
    job_id = manifest_job_id(info.manifest) if info.manifest else ""
    job = {"job_id": job_id} if SLURM_ID.fullmatch(job_id) else {}
    store.upsert_run(
        info.name, str(info.path), kind=KINDS.get(info.kind.upper(), "unknown"), parent=info.parent,
        manifest=info.manifest, last_step=info.last_step, status="active", error=None, **job,
    )  # fmt: skip
    for c in info.checkpoints:
        store.upsert_checkpoint(info.name, str(c.path), c.step, c.complete, c.reason)
    return [c for c in info.checkpoints if c.complete]


def recorded_as(info: RunInfo) -> tuple[object, ...]:
    """What :func:`record_run` writes of a run that a judgement reads: kind, parent, manifest, status."""
    return KINDS.get(info.kind.upper(), "unknown"), info.parent, info.manifest, "active"


def mark(store: Store, name: str, path: str, status: str, error: str | None) -> None:
    """A run that vanished or failed: recorded with the message, never dropped silently."""
    store.upsert_run(name, path, status=status, error=error)
