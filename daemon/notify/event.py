"""The alert value every channel receives."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rankinv.boundary.text import shown


@dataclass(frozen=True)
class Event:
    """One alert. ``key`` groups repeats for de-duplication (default: kind, run and title).

    Title, body and run quote run names: they are escaped here, once, so that no channel (terminal escape
    sequence, desktop popup, webhook, command hook) ever carries a name's control characters."""

    kind: str
    title: str
    body: str
    run: str = ""
    severity: str = "warning"  # info, warning or critical
    key: str = ""
    time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        for name in ("kind", "title", "body", "run"):
            object.__setattr__(self, name, shown(getattr(self, name)))

    def dedup_key(self) -> str:
        return self.key or f"{self.kind}|{self.run}|{self.title}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": "rankinv"}

    def one_line(self) -> str:
        return f"{self.title}: {self.body}" if self.body else self.title

    def feed_line(self) -> str:
        """The event feed's text: the feed names the run beside it, so the title's "rankinv: RUN" is not repeated."""
        prefix = f"rankinv: {self.run} " if self.run else ""
        if prefix and self.title.startswith(prefix):
            head = self.title[len(prefix):]
            return f"{head}: {self.body}" if self.body else head
        return self.one_line()


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
