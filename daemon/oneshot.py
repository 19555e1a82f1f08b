"""One pass over a runs root without a daemon: discover, ingest, read callback triage reports, judge.

``rankinv status`` uses it when no daemon runs, so the command always answers. It writes to the same store
(offsets included) a daemon would, under the daemon's lock, so a daemon started later resumes from it. It
never acts on a verdict and never starts triage jobs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rankinv.daemon.lock import AlreadyRunning, DaemonLock
from rankinv.daemon.pipeline.health import Health
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.pipeline.triage import TriageStage
from rankinv.daemon.serve import Plan

from rankinv.store import Store


class _NoWatch:
    def add(self, directory: Path) -> None:
        """Nothing watches during a one-shot scan."""

    def discard(self, directory: Path) -> None:
        """Nothing watches during a one-shot scan."""


def scan_once(p: Plan) -> bool:
    """Bring the store up to date; False when a daemon took the lock meanwhile (it keeps the store current)."""
    lock = DaemonLock(p.state_dir)
    try:
        lock.acquire()
    except AlreadyRunning:
        return False
    try:
        config = dataclasses.replace(p.config, daemon=dataclasses.replace(p.config.daemon, triage_executor="callback"))
        with Store.open(p.store_path) as store:
            triage = TriageStage(store, config, p.state_dir, p.config_path)
            pipeline = Pipeline(p.root, config, store, triage=triage, health=Health(store, 60.0), dirs=_NoWatch(),
                                actions=None)
            pipeline.handle(set(), rescan=True)
    finally:
        lock.release()
    return True
