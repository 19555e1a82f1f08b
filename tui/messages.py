"""Messages that flow up: small dataclasses named for what happened.

Worker threads only ever *post* these (``post_message`` is thread-safe); handlers on the UI thread update
widgets. :class:`SnapshotTaken` coalesces: if the UI falls behind, only the newest snapshot is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rankinv.tui.alerts import AlertChannel
from rankinv.tui.poller import Detail, RowData
from textual.message import Message

from rankinv.messages import Command
from rankinv.store import Candidate, Snapshot


@dataclass
class SnapshotTaken(Message):
    """The store changed (or went stale) and was read in one transaction."""

    snapshot: Snapshot
    rows: RowData = field(default_factory=RowData)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotTaken)


@dataclass
class StoreUnavailable(Message):
    """The store cannot be read (not created yet, wrong schema, locked); the reason says what to do."""

    reason: str


@dataclass
class DetailLoaded(Message):
    detail: Detail


@dataclass
class DetailFailed(Message):
    reason: str


@dataclass
class DetailRequested(Message):
    """A key or a click asked for the detail screen of one candidate."""

    candidate: Candidate


@dataclass
class CommandQueued(Message):
    """A key's command was written to the store for the daemon to act on."""

    command_id: int
    command: Command


@dataclass
class CommandFailed(Message):
    command: Command
    reason: str


@dataclass
class DaemonAttached(Message):
    """The daemon for this root is running (found, or started detached)."""

    status: str


@dataclass
class DaemonUnavailable(Message):
    reason: str


@dataclass
class VerdictIssued(Message):
    """A new KILL verdict, or a newly flagged checkpoint, since the last snapshot (raises a desktop alert)."""

    candidate: Candidate
    decision: str  # KILL or FLAG


@dataclass
class AlertChannelResolved(Message):
    """Which escape sequence this terminal understands (found once, off the UI thread)."""

    channel: AlertChannel


@dataclass
class AlertSent(Message):
    """A desktop alert went to the terminal (``data`` is what was written; a bell when nothing better passes)."""

    title: str
    data: bytes


@dataclass
class RunLookupRequested(Message):
    """``l`` or ``y`` asked for a run's folder and log (``purpose`` is ``log`` or ``copy``)."""

    candidate: Candidate
    purpose: str


@dataclass
class RunLocated(Message):
    """Where a run lives and which log ``l`` would page (None when none is found), for ``purpose`` log or copy."""

    candidate: Candidate
    path: str | None
    log: str | None
    purpose: str
    error: str = ""  # the store could not be read


@dataclass
class ContextChecked(Message):
    """What the header warns about: other daemons over overlapping runs, child roots with their own config."""

    warnings: tuple[str, ...]


@dataclass
class CommandRequested(Message):
    """A key asked the daemon for something; the app queues it unless the session is read-only."""

    command: Command
