"""Write what discovery found about a run into the store: the run row and its checkpoints."""

from __future__ import annotations

from rankinv.discovery import CheckpointInfo, RunInfo
from rankinv.store import Store

KINDS = {"SFT": "sft", "GRPO": "grpo"}


def record_run(store: Store, info: RunInfo) -> list[CheckpointInfo]:
    """Upsert the run (clearing an old error) and every checkpoint; returns the complete checkpoints."""
    store.upsert_run(
        info.name, str(info.path), kind=KINDS.get(info.kind.upper(), "unknown"), parent=info.parent,
        manifest=info.manifest, last_step=info.last_step, status="active", error=None,
    )  # fmt: skip
    for c in info.checkpoints:
        store.upsert_checkpoint(info.name, str(c.path), c.step, c.complete, c.reason)
    return [c for c in info.checkpoints if c.complete]


def mark(store: Store, name: str, path: str, status: str, error: str | None) -> None:
    """A run that vanished or failed: recorded with the message, never dropped silently."""
    store.upsert_run(name, path, status=status, error=error)
