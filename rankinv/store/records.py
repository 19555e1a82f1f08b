"""Immutable rows the store hands to readers (the TUI, ``rankinv status``, scripts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rankinv.messages import Command, Reason


@dataclass(frozen=True)
class RunRecord:
    name: str
    path: str
    kind: str
    parent: str | None
    status: str
    error: str | None
    manifest: dict[str, Any] | None
    job_id: str | None
    job_state: str | None
    last_step: int | None
    pinned: str | None
    opt_out: bool
    acknowledged_verdict: int | None
    updated_at: float
    job_node: str | None = None
    job_elapsed: float | None = None
    job_checked_at: float | None = None


@dataclass(frozen=True)
class CheckpointRecord:
    run: str
    path: str
    step: int | None
    complete: bool
    reason: str | None
    triage_state: str
    triage_error: str | None
    triage_job: str | None


@dataclass(frozen=True)
class Series:
    """One metric of one run, ordered by step."""

    name: str
    steps: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class VerdictRecord:
    id: int
    run: str
    subject: str
    step: int | None
    decision: str
    confidence: float | None
    stage: str | None
    summary: str
    reasons: tuple[Reason, ...]
    """Most important first; one ``info`` reason saying why, if the stored ones cannot be decoded."""
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ActionRecord:
    id: int
    run: str
    verdict_id: int | None
    kind: str
    target: str | None
    dry_run: bool
    state: str
    attempts: int
    next_at: float | None
    audit: str
    detail: dict[str, Any] | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class CommandRecord:
    """A queued command as stored; ``command`` is None (and ``problem`` says why) when the row is malformed."""

    id: int
    kind: str
    run: str | None
    command: Command | None
    problem: str | None
    source: str | None
    created_at: float
    consumed_at: float | None
    result: str | None


@dataclass(frozen=True)
class EventRecord:
    id: int
    time: float
    level: str
    kind: str
    run: str | None
    message: str


@dataclass(frozen=True)
class Health:
    """What the daemon last said about itself; ``alive`` means its heartbeat is recent."""

    values: dict[str, str] = field(default_factory=dict)
    alive: bool = False

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)


@dataclass(frozen=True)
class Candidate:
    """One row of the ranking: an SFT checkpoint awaiting RL, or a run (GRPO in flight, or other)."""

    subject: str
    run: str
    checkpoint: str | None
    kind: str  # 'sft-checkpoint' | 'grpo' | 'sft' | 'unknown'
    step: int | None
    status: str
    job_id: str | None
    job_state: str | None
    triage_state: str | None
    pre_rl_entropy: float | None
    pass1: float | None
    headroom: float | None
    expected_variance: float | None
    degenerate_fraction: float | None
    flagged: bool
    live_entropy: float | None
    entropy_drop: float | None
    zero_std_fraction: float | None
    predicted: float | None
    predicted_lo: float | None
    predicted_hi: float | None
    basis: str | None
    verdict: str | None
    verdict_id: int | None
    verdict_summary: str | None
    confidence: float | None
    acknowledged: bool
    pinned: bool
    opt_out: bool
    job_node: str | None = None
    job_elapsed: float | None = None  # seconds the job had run at job_checked_at
    job_checked_at: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything the main screen shows, read in one transaction."""

    taken_at: float
    candidates: tuple[Candidate, ...]
    events: tuple[EventRecord, ...]
    health: Health
