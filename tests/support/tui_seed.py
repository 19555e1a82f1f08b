"""A small, realistic store for the TUI tests: SFT checkpoints on both sides of the hump and GRPO runs in flight.

Written through the store's own write API (real SQLite). ``frozen_clock`` pins the store's timestamps so the
snapshot tests see the same "time ago" strings on every run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rankinv.messages import Reason, TriageSummary
from rankinv.store import Store
from rankinv.store.base import StoreBase
from tests.support.reports import make_report

FROZEN = 1_780_000_000.0  # the clock the snapshot tests give the app and the store
TRIAGE_CKPT = "/runs/sft-a/checkpoint-200"


@contextlib.contextmanager
def frozen_clock(when: float = FROZEN) -> Iterator[None]:
    original = StoreBase.__dict__["now"]  # the staticmethod object itself, so restoring keeps it static
    StoreBase.now = staticmethod(lambda: when)  # type: ignore[method-assign]
    try:
        yield
    finally:
        StoreBase.now = original  # type: ignore[method-assign]


def summary(pass_rates: list[float], *, flagged: bool, entropy: float, pass1: float, headroom: float,
            expected_variance: float, degenerate_fraction: float) -> TriageSummary:
    """A summary with the given headline numbers (what the main and detail screens show)."""
    return TriageSummary(
        flagged=flagged, entropy_basis="entropy_token_mean",
        flag_messages=("entropy_token_mean 0.12 < tau_h 0.18",) if flagged else (), group_size=8, p_star=0.083,
        entropy=entropy, pass1=pass1, headroom=headroom, expected_variance=expected_variance,
        degenerate_fraction=degenerate_fraction, never_solved_fraction=0.2, entropy_token_mean=entropy,
        entropy_probe=None, pass_at_k=((1, pass1), (4, 0.55), (16, 0.66), (64, 0.71)), pass_rates=tuple(pass_rates),
    )  # fmt: skip


def _triage(store: Store, checkpoint: str, pass_rates: list[float], **numbers: Any) -> None:
    report = make_report(checkpoint, [round(p * 16) for p in pass_rates])  # a real report; the summary states
    store.put_triage_report(checkpoint, report, summary(pass_rates, **numbers))  # the numbers the screens show


def seed(store: Store) -> None:
    """Two SFT checkpoints, two GRPO runs (one failing), verdicts of every kind, an action, events, health."""
    store.upsert_run("sft-a", "/runs/sft-a", kind="sft", status="done")
    store.upsert_checkpoint("sft-a", "/runs/sft-a/checkpoint-100", 100, True)
    store.upsert_checkpoint("sft-a", TRIAGE_CKPT, 200, True)
    collapsed = [0.0] * 6 + [0.05, 0.1, 0.3, 0.5, 0.6] + [0.95] * 3 + [1.0] * 6  # all-or-nothing prompts
    _triage(store, TRIAGE_CKPT, collapsed, flagged=True, entropy=0.12, pass1=0.41, headroom=4.9,
            expected_variance=0.081, degenerate_fraction=0.62)
    _triage(store, "/runs/sft-a/checkpoint-100", [0.3] * 10, flagged=False, entropy=0.31, pass1=0.3, headroom=3.6,
            expected_variance=0.16, degenerate_fraction=0.1)
    store.put_prediction("sft-a", "/runs/sft-a/checkpoint-100", step=100, value=0.74, lo=0.64, hi=0.84, basis="prior")
    store.put_prediction("sft-a", TRIAGE_CKPT, step=200, value=0.52, lo=0.40, hi=0.64, basis="prior")
    store.put_verdict("sft-a", TRIAGE_CKPT, step=200, decision="FLAG", confidence=0.8, stage="1",
                      summary="entropy 0.12 < 0.18",
                      reasons=[Reason("stage-1 entropy", 0.12, 0.18, "<", None, None, "watch")])
    _grpo(store, "grpo-good", "/runs/sft-a/checkpoint-100", job="4101", drop=0.18, value=0.77, decision="CONTINUE")
    _grpo(store, "grpo-bad", TRIAGE_CKPT, job="4102", drop=0.64, value=0.46, decision="KILL")
    vid = store.latest_verdict("grpo-bad").id  # type: ignore[union-attr]
    audit = "run grpo-bad step 150 (entropy_drop 0.64, threshold 0.50) KILL job 4102 (dry-run)"
    store.begin_action("grpo-bad", vid, "kill", target="4102", dry_run=True, state="planned", audit=audit)
    store.add_event("info", "discover", "new checkpoint checkpoint-200", run="sft-a")
    store.add_event("warning", "verdict", "FLAG entropy 0.12 < 0.18", run="sft-a")
    store.add_event("error", "verdict", "KILL entropy drop 64% > 50% by step 150", run="grpo-bad")
    store.set_health(watch_mode="inotify", armed=False, heartbeat=store.now(), last_event=store.now() - 42, errors=0)


def _grpo(store: Store, name: str, parent: str, *, job: str, drop: float, value: float, decision: str) -> None:
    store.upsert_run(name, f"/runs/{name}", kind="grpo", parent=parent, job_id=job, job_state="RUNNING",
                     last_step=160, status="running")
    points = []
    for step in range(0, 161, 10):
        entropy = 0.4 * (1 - drop * min(step, 150) / 150)
        points += [(step, "entropy", entropy, None), (step, "reward_mean", 0.3 + 0.002 * step * (1 - drop), None),
                   (step, "frac_reward_zero_std", min(0.95, 0.3 + drop * step / 200), None)]
    store.add_metrics(name, points)
    store.put_monitor(name, step=160, entropy=0.4 * (1 - drop), entropy_drop=drop,
                      zero_std_fraction=min(0.95, 0.3 + drop * 0.8))
    store.put_prediction(name, None, step=160, value=value, lo=value - 0.06, hi=value + 0.06, basis="fitted")
    op, grade = (">", "kill") if drop > 0.5 else ("<=", "info")
    reasons = [Reason("entropy drop", drop, 0.5, op, 10, 150, grade)]
    store.put_verdict(name, None, step=150, decision=decision, confidence=0.9, stage="2",
                      summary=f"entropy drop {drop:.0%} {'>' if drop > 0.5 else '<='} 50% by step 150", reasons=reasons)


def make_store(path: Path, when: float = FROZEN) -> Path:
    with frozen_clock(when), Store.open(path) as store:
        seed(store)
    return path
