"""One vocabulary for the ranking: the column labels and their meaning, shared by the TUI, ``rankinv status``
and ``--json`` (whose keys are the :class:`~rankinv.store.Candidate` field names listed here).

Pure data: the TUI's ``?`` glossary and the status table read it, so a column is named once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class Term:
    key: str  # the column key (TUI) and, where it is one, the JSON field
    label: str  # the header both tables print
    meaning: str
    priority: int = 0  # a column's: 0 always shows; higher numbers go first when a terminal is too narrow


COLUMNS: tuple[Term, ...] = (  # priority: which go first on a narrow terminal (see drop_order), TUI and status alike
    Term("run", "run", "the run (its folder under the root); run@ckpt-N is one SFT checkpoint of it"),
    Term("kind", "kind", "ckpt: SFT checkpoint awaiting RL; grpo: a GRPO run; sft: an SFT run", priority=7),
    Term("step", "step", "the last step logged (a checkpoint: its step)", priority=3),
    Term("predicted", "pass@10", "predicted final pass@10 after GRPO; [lo, hi] or ±half-width is its interval"),
    Term("basis", "basis", "prediction source: prior (paper), fitted (your finished runs), mean only (a reward, "
         "no triage or entropy: the interval reaches down to it); +traj: the live curve", priority=5),
    Term("pre_rl_entropy", "H0", "pre-RL entropy: mean next-token entropy (nats, T=1); stage 1 flags < τ_H",
         priority=2),
    Term("headroom", "p/p*", "headroom: per-prompt pass rate over p*(g), where half of the groups are degenerate",
         priority=1),
    Term("expected_variance", "E[σ²]", "expected within-group reward variance p(1−p)(g−1)/g: the gradient signal left",
         priority=6),
    Term("live_entropy", "H", "live entropy of the GRPO run at its last step (nats)", priority=8),
    Term("entropy_drop", "drop", "entropy fall since the baseline step s0; stage 2 kills above τ₂", priority=1),
    Term("zero_std_fraction", "0std", "share of groups whose rewards all agree (zero std: no gradient)", priority=3),
    Term("entropy_curve", "H/H0 0–1", "live entropy over its s0 value, fixed 0–1 scale; red below 1−τ₂", priority=1),
    Term("reward_curve", "reward 0–1", "sparkline of the mean reward, on a fixed 0–1 scale", priority=4),
    Term("zero_std_curve", "0std 0–1", "zero-std fraction, fixed 0–1 scale; red above its kill line", priority=5),
    Term("verdict", "verdict", "✖ KILL, ● WATCH, ✔ CONTINUE, ⚑ FLAG (stage 1); pin: pinned; ack: acknowledged"),
    Term("confidence", "conf", "the verdict's confidence: how sure the rule is (0–100%), not a chance of success",
         priority=2),
    Term("job", "job", "Slurm job id, state (R running, PD pending, CA cancelled, slurm?: Slurm did not answer), "
         "elapsed and node, as Slurm last said; after a kill what the daemon did (USR1 sent, killed …); "
         "no job known: nothing names the run's job (a manifest's SLURM_JOB_ID does), so Slurm is not asked; "
         "vanished or error: the run's folder went or could not be read", priority=2),
)

TERMS: tuple[Term, ...] = (
    Term("p*", "p*(g)", "the pass rate below which most groups of g rollouts all fail: root of p^g+(1−p)^g = 0.5"),
    Term("tau_h", "τ_H", "stage-1 entropy floor (default 0.18 nats): a checkpoint below it is flagged"),
    Term("tau_2", "τ₂", "stage-2 drop threshold (default 50%): a larger fall from s0 to the decision step kills"),
    Term("window", "s0…decision", "the stage-2 window: baseline step s0 to the decision step, drawn as │ in charts"),
    Term("dry-run", "dry-run / ARMED", "dry-run: KILL is only recorded and alerted; ARMED: the daemon stops the job"),
    Term("marks", "marked rows", "rows marked with space are overlaid in the charts pane"),
)

LABELS: dict[str, str] = {t.key: t.label for t in COLUMNS}
PRIORITY: dict[str, int] = {t.key: t.priority for t in COLUMNS}


def drop_order(keys: Sequence[str]) -> tuple[str, ...]:
    """The columns ``keys`` (in table order) that may go when a terminal is too narrow, first to go first: the
    highest priority number first, among equals the rightmost. The TUI's table and ``rankinv status`` both drop
    in this order, so they cannot drift apart; priority 0 never goes."""
    at = {k: i for i, k in enumerate(keys)}
    return tuple(sorted((k for k in keys if PRIORITY.get(k, 0) > 0), key=lambda k: (-PRIORITY[k], -at[k])))


KINDS = {"sft-checkpoint": "ckpt", "grpo": "grpo", "sft": "sft", "unknown": "?"}  # the kind column's short names


# Slurm's own short state codes, as squeue prints them.
SLURM_SHORT = {
    "RUNNING": "R", "PENDING": "PD", "COMPLETING": "CG", "COMPLETED": "CD", "CANCELLED": "CA",
    "FAILED": "F", "TIMEOUT": "TO", "SUSPENDED": "S", "PREEMPTED": "PR", "OUT_OF_MEMORY": "OOM",
    "NODE_FAIL": "NF",
}  # fmt: skip


def elapsed_text(seconds: float | None) -> str:
    """``4:05``, ``1:02:03``, ``2-03:04:05``: squeue's TIME format; empty when unknown."""
    if seconds is None or not 0 <= seconds < 1e9:
        return ""
    s = int(seconds)
    days, hours, minutes, secs = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def job_text(job_id: str | None, state: str | None, elapsed: float | None, node: str | None) -> str:
    """``4102 R 12:04 node07``: the job column of the TUI and ``rankinv status`` (empty without a job id)."""
    if not job_id:
        return ""
    code = (state or "").upper()
    return " ".join(p for p in (job_id, SLURM_SHORT.get(code, state or ""), elapsed_text(elapsed), node or "") if p)


NO_JOB = "no job known"


def no_job_text(status: str | None) -> str:
    """The job cell of a run whose job nothing names (no manifest job id, no kill, so never asked of Slurm): that
    no job is known, not the run's record status ``active`` (which reads as the job's); a run that vanished or
    failed says so."""
    return NO_JOB if status in (None, "", "active") else status


# What a kill did, in a job cell: the action ledger's states, short.
KILL_SHORT = {
    "dry_run": "dry-kill", "pending": "killing", "signalled": "signalled", "cancelling": "scancel", "done": "killed",
    "gone": "gone", "aborted": "kill-abort", "not_owner": "not-yours", "unresolved": "no-job",
    "opted_out": "opted-out", "rate_limited": "rate-ltd", "planned": "dry-kill",
}  # fmt: skip


def kill_target_text(target: str | None) -> str:
    """The job a kill aimed at: ``4102`` from ``slurm:4102`` or ``4102``, ``pid 81`` from ``process:81:…``."""
    kind, _, rest = (target or "").partition(":")
    if kind == "process":
        return "pid " + rest.partition(":")[0]
    return rest if kind == "slurm" else (target or "")


def kill_state_text(state: str, detail: object) -> str:
    """What the kill did: ``USR1 sent`` while in its grace period (the signal it sent), else the ledger state."""
    sent = detail.get("detail") if isinstance(detail, dict) else None
    if state == "signalled" and isinstance(sent, str) and sent.endswith(" sent"):
        return sent
    return KILL_SHORT.get(state, state)


def job_cell(job: str, status: str | None, kill: tuple[str | None, str, object] | None) -> str:
    """The job column of the TUI and ``rankinv status``: ``job`` (:func:`job_text`), else the job the run's kill
    aimed at, else :func:`no_job_text`; then, once the daemon acted, what the kill did (``4102 CA 12:30 node07
    killed``, ``pid 81 dry-kill``). ``kill`` is the newest kill action's (target, state, detail)."""
    text = job or (kill_target_text(kill[0]) if kill else "") or no_job_text(status)
    return f"{text} {kill_state_text(kill[1], kill[2])}" if kill else text


def percent_text(value: float) -> str:
    """``53%``; a share that rounds to zero is ``0%``, never ``-0%`` (an entropy that rose by a hair)."""
    shown = round(value * 100)
    return f"{shown if shown else 0}%"


def interval_text(value: float | None, lo: float | None, hi: float | None, *, compact: bool = False) -> str:
    """``0.62±0.05`` only when the interval is symmetric as printed (both bounds, rounded to the two digits shown,
    lie the same distance from the rounded value); else ``0.62 [0.55, 0.71]`` (``compact``: ``0.62 [.55,.71]``,
    for a narrow column). The bare value when the interval is unknown, "" when the value is."""
    if value is None or not math.isfinite(value):
        return ""
    v = round(value * 100)
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{value:.2f}"
    low, high = round(lo * 100), round(hi * 100)
    if v - low == high - v:
        return f"{value:.2f}±{(high - v) / 100:.2f}"
    if compact:
        return f"{value:.2f} [{_short(lo)},{_short(hi)}]"
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


def _short(x: float) -> str:
    """``.55`` for 0.55 (the bracket must fit a narrow column); ``1.00`` and negatives stay whole."""
    text = f"{x:.2f}"
    return text[1:] if text.startswith("0.") else text


def label(key: str) -> str:
    return LABELS[key]


def row_label(run: str, checkpoint: str | None) -> str:
    """The run, plus ``@ckpt-N`` for an SFT checkpoint (short: the step must survive a narrow column)."""
    if checkpoint is None:
        return run
    name = PurePath(checkpoint).name
    return f"{run}@{name.replace('checkpoint-', 'ckpt-', 1)}"
