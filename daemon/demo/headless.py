"""The demo without a terminal UI: print the daemon's events as they happen, then the final ranking."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rankinv.daemon.demo.session import Session

from rankinv.store import ActionRecord, ReadStore, Snapshot, StoreError, store_path_for

Printer = Callable[[str], None]


def settled(snap: Snapshot) -> bool:
    """Every checkpoint triaged (or failed) and every RL run judged."""
    checkpoints = [c for c in snap.candidates if c.kind == "sft-checkpoint"]
    runs = [c for c in snap.candidates if c.kind == "grpo"]
    return (
        bool(checkpoints) and bool(runs)
        and all(c.triage_state in ("done", "failed") for c in checkpoints)
        and all(c.verdict is not None for c in runs)
    )


def _open(path: Path, deadline: float) -> ReadStore:
    while True:
        try:
            return ReadStore.open(path)
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def follow(session: Session, timeout: float, out: Printer = print) -> tuple[Snapshot, dict[str, ActionRecord]]:
    """Print events until the replay is over and the ranking has settled (or ``timeout`` seconds pass); the last
    snapshot and each run's newest kill action (for the job column)."""
    deadline = time.monotonic() + timeout
    store = _open(store_path_for(session.root, session.state), deadline)
    last = 0
    try:
        while True:
            for event in reversed(store.events(limit=500, after_id=last)):
                stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
                who = "" if not event.run or event.message.startswith(event.run) else f"{event.run}: "
                out(f"{stamp} {event.level:<7} {who}{event.message}")
                last = max(last, event.id)
            snap = store.snapshot(events=0)
            if (session.replay_finished() and settled(snap)) or time.monotonic() > deadline:
                return snap, store.latest_kills()
            time.sleep(0.5)
    finally:
        store.close()
