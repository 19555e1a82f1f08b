"""Reading the store off the UI thread: a change-counter poll for snapshots, and one-shot detail reads.

No Textual here. Each instance owns its own read-only SQLite connection, so it must be created and used in
the one thread that polls (the app's worker).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rankinv import metrics
from rankinv.messages import MessageError, TriageSummary
from rankinv.store import ActionRecord, Candidate, DatabaseError, ReadStore, Series, Snapshot, StoreError, VerdictRecord

CURVES = (metrics.ENTROPY, metrics.REWARD_MEAN, metrics.FRAC_REWARD_ZERO_STD)
MAX_CURVES = 60  # runs whose curves are read per snapshot: the top of the ranking plus the rows asked for


@dataclass(frozen=True)
class RowData:
    """What the rows draw beyond the snapshot: each run's curves, and its latest kill action (the job's fate)."""

    curves: dict[str, dict[str, Series]] = field(default_factory=dict)
    kills: dict[str, ActionRecord] = field(default_factory=dict)


def read_rows(store: ReadStore, snapshot: Snapshot, wanted: Iterable[str] = ()) -> RowData:
    """Curves of the first :data:`MAX_CURVES` runs in the ranking and of ``wanted`` runs (selected, marked)."""
    runs = list(dict.fromkeys(c.run for c in snapshot.candidates if c.checkpoint is None))
    chosen = set(runs[:MAX_CURVES]) | (set(wanted) & set(runs))
    return RowData({run: store.series(run, CURVES) for run in sorted(chosen)}, store.latest_kills())


@dataclass(frozen=True)
class Detail:
    """Everything the detail screen shows for one candidate, read in one go."""

    candidate: Candidate
    series: dict[str, Series]
    triage: TriageSummary | None
    triage_problem: str | None
    """Why a stored triage summary could not be read (then ``triage`` is None)."""
    verdicts: tuple[VerdictRecord, ...]
    actions: tuple[ActionRecord, ...]


class StorePoller:
    """``poll()`` returns a new :class:`Snapshot` when the daemon committed since the last one, else None.

    ``PRAGMA data_version`` is the cheap part; the snapshot is read only when it moves, or every ``max_age``
    seconds regardless so that daemon liveness (a heartbeat going stale) is noticed without any commit.
    """

    def __init__(self, path: Path, *, max_age: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.path, self.max_age, self.clock = path, max_age, clock
        self._store: ReadStore | None = None
        self._version: int | None = None
        self._read_at = 0.0
        self._last: tuple[Snapshot, frozenset[str], frozenset[str]] | None = None  # snapshot, its runs, curves read

    def poll(self) -> Snapshot | None:
        """Raises :class:`StoreError` while the store cannot be read (then retries on the next call)."""
        try:
            store = self._open()
            version = store.data_version()
            stale = self.clock() - self._read_at >= self.max_age
            if version == self._version and not stale:
                return None
            snapshot = store.snapshot()
        except StoreError:
            self.close()
            raise
        except DatabaseError as exc:  # a locked or half-migrated file: say so, reopen next time
            self.close()
            raise StoreError(f"{self.path}: cannot read the store ({exc}); retrying") from exc
        self._version, self._read_at = version, self.clock()
        return snapshot

    def rows(self, snapshot: Snapshot, wanted: Iterable[str] = ()) -> RowData:
        """:func:`read_rows` on this poller's connection (call right after :meth:`poll` returned ``snapshot``)."""
        try:
            rows = read_rows(self._open(), snapshot, wanted)
        except DatabaseError as exc:
            self.close()
            raise StoreError(f"{self.path}: cannot read the curves ({exc}); retrying") from exc
        runs = frozenset(c.run for c in snapshot.candidates if c.checkpoint is None)
        self._last = (snapshot, runs, frozenset(rows.curves))
        return rows

    def unread(self, wanted: Iterable[str]) -> Snapshot | None:
        """The last snapshot when a run in it that the screen wants (the cursor moved past the top of the ranking,
        or such rows scrolled into view) has no curves read yet, else None: its rows are then read again at once,
        not at the store's next commit (a finished root never commits; a busy daemon commits late)."""
        if self._last is None:
            return None
        snapshot, runs, read = self._last
        return snapshot if (frozenset(wanted) & runs) - read else None

    def _open(self) -> ReadStore:
        if self._store is None:
            self._store = ReadStore.open(self.path)
            self._version = None
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def read_detail(path: Path, candidate: Candidate) -> Detail:
    """Curves, triage summary, verdict history and audit log of one candidate (one short-lived connection)."""
    with ReadStore.open(path) as store:
        triage_source = candidate.checkpoint or _parent(store, candidate.run)
        triage, problem = _triage(store, triage_source)
        return Detail(
            candidate=candidate,
            series=store.series(candidate.run, CURVES) if candidate.checkpoint is None else {},
            triage=triage,
            triage_problem=problem,
            verdicts=tuple(v for v in store.verdicts(candidate.run) if v.subject == candidate.subject),
            actions=store.actions(candidate.run),
        )


def _triage(store: ReadStore, checkpoint: str | None) -> tuple[TriageSummary | None, str | None]:
    try:
        return (store.triage_summary(checkpoint) if checkpoint else None), None
    except MessageError as exc:
        return None, str(exc)


def _parent(store: ReadStore, run: str) -> str | None:
    record = store.run(run)
    return record.parent if record else None
