"""The daemon's self-report in the store's ``health`` table, read by the TUI status bar and ``rankinv status``.

Keys: pid, host, root, started_at, heartbeat (epoch seconds), watch_mode (inotify|polling), watch_reason,
armed ("true"/"false"), last_event, errors (count since start), last_error, watching (directories),
points_ingested (metric points written since start), ready ("true" once the first full scan is done),
triage (the executor in use, or why none is).
"""

from __future__ import annotations

import os
import socket
import time

from rankinv.store import Store


class Health:
    def __init__(self, store: Store, every: float):
        self.store, self.every = store, every
        self.errors = 0
        self.points = 0
        self.pending = ""
        self.next_beat = 0.0

    def started(self, root: str, **values: object) -> None:
        now = time.time()
        self.store.set_health(
            pid=os.getpid(), host=socket.gethostname(), root=root, started_at=now, heartbeat=now, errors=0,
            last_error=None, stopped_at=None, points_ingested=0, ready="false", **values,
        )  # fmt: skip
        self.next_beat = time.monotonic() + self.every

    def due_in(self) -> float:
        return max(0.0, self.next_beat - time.monotonic())

    def beat(self, **values: object) -> None:
        """Write the heartbeat if due (every ``every`` seconds); extra values go along."""
        if time.monotonic() < self.next_beat and not values:
            return
        self.store.set_health(heartbeat=time.time(), errors=self.errors, **values)
        self.next_beat = time.monotonic() + self.every

    def event(self, text: str) -> None:
        self.store.set_health(last_event=f"{time.strftime('%H:%M:%S')} {text}")

    def ingested(self, run: str, points: int) -> None:
        """Count points written (a restarted daemon that resumed from its offsets counts only new ones)."""
        self.points += points
        self.pending = f"{time.strftime('%H:%M:%S')} {run}: {points} points"

    def flush(self) -> None:
        """Write what :meth:`ingested` counted, once per batch of events."""
        if self.pending:
            self.store.set_health(points_ingested=self.points, last_event=self.pending)
            self.pending = ""

    def error(self, text: str) -> None:
        self.errors += 1
        self.store.set_health(errors=self.errors, last_error=f"{time.strftime('%H:%M:%S')} {text}")

    def stopped(self) -> None:
        self.store.set_health(stopped_at=time.time(), heartbeat=0)
