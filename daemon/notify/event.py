"""The alert value every channel receives."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One alert. ``key`` groups repeats for de-duplication (default: kind, run and title)."""

    kind: str
    title: str
    body: str
    run: str = ""
    severity: str = "warning"  # info, warning or critical
    key: str = ""
    time: float = field(default_factory=time.time)

    def dedup_key(self) -> str:
        return self.key or f"{self.kind}|{self.run}|{self.title}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": "rankinv"}

    def one_line(self) -> str:
        return f"{self.title}: {self.body}" if self.body else self.title


class NotifyError(Exception):
    """A channel could not deliver; the message is safe to log (no secrets)."""


class NotApplicable(NotifyError):
    """The channel has nowhere to deliver here (no terminal, no desktop session): skipped, not failed."""


@dataclass(frozen=True)
class ChannelResult:
    """What one channel did with one event."""

    channel: str
    ok: bool
    detail: str = ""
    skipped: bool = False
