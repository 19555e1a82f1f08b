"""The action ledger: what was decided and done for each (run, verdict, kind), persisted before acting.

The escalator writes a record *before* each irreversible step, so a daemon that dies at any point and
restarts reads back where it was and never repeats a signal. :class:`Ledger` is the narrow interface the
escalator needs; :class:`StoreLedger` implements it over the store's ``actions`` table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rankinv.store import ActionRecord, Store

log = logging.getLogger("rankinv.daemon")

# Non-terminal states, in order.
PENDING, SIGNALLED, CANCELLING = "pending", "signalled", "cancelling"
OPEN_STATES = (PENDING, SIGNALLED, CANCELLING)
# Terminal states.
DONE, GONE, DRY_RUN, ABORTED = "done", "gone", "dry_run", "aborted"
NOT_OWNER, UNRESOLVED, OPTED_OUT, RATE_LIMITED = "not_owner", "unresolved", "opted_out", "rate_limited"


@dataclass(frozen=True)
class ActionKey:
    """One action per run, verdict and kind (``kill``): a verdict is acted on at most once."""

    run: str
    verdict_id: int
    kind: str = "kill"


@dataclass(frozen=True)
class ActionState:
    """The persisted state of one action. Times are Unix seconds."""

    key: ActionKey
    state: str
    created_at: float
    updated_at: float
    run_dir: str = ""
    step: int | None = None
    reason: str = ""
    target: str = ""
    armed: bool = False
    signalled_at: float | None = None
    cancelled_at: float | None = None
    acted_at: float | None = None
    attempts: int = 0
    next_try_at: float = 0.0
    detail: str = ""
    audit: str = ""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class Ledger(Protocol):
    """What the escalator needs from the store: action state by key, open actions, the kill count, opt-outs."""

    def get(self, key: ActionKey) -> ActionState | None: ...

    def put(self, state: ActionState) -> None: ...

    def open_actions(self) -> list[ActionState]: ...

    def kills_since(self, since: float) -> int: ...

    def opted_out(self, run: str) -> bool: ...


# Fields kept in the store's ``actions.detail`` JSON (the rest have columns of their own).
_DETAIL_FIELDS = ("run_dir", "step", "reason", "armed", "signalled_at", "cancelled_at", "acted_at", "detail")


class StoreLedger:
    """The ledger over the store's ``actions`` table; each put commits before returning.

    The table's UNIQUE(run, kind, verdict) key is what makes an action happen at most once across restarts.
    The run must already be in the store (the daemon records runs before it judges them).
    """

    def __init__(self, store: Store):
        self.store = store

    def get(self, key: ActionKey) -> ActionState | None:
        record = self.store.action(key.run, key.kind, key.verdict_id)
        return _from_record(record, key.verdict_id) if record else None

    def put(self, state: ActionState) -> None:
        k, detail = state.key, {name: getattr(state, name) for name in _DETAIL_FIELDS}
        with self.store.transaction():  # one commit, before the escalator takes its next step
            action_id, created = self.store.begin_action(
                k.run,
                k.verdict_id,
                k.kind,
                target=state.target,
                dry_run=not state.armed,
                state=state.state,
                audit=state.audit,
                detail=detail,
            )
            if not created:
                self.store.update_action(
                    action_id, state=state.state, audit=state.audit, attempts=state.attempts,
                    next_at=state.next_try_at, target=state.target, detail=detail, dry_run=not state.armed,
                )  # fmt: skip

    def open_actions(self) -> list[ActionState]:
        return _decodable(r for r in self.store.actions_in(OPEN_STATES) if r.verdict_id is not None)

    def kills_since(self, since: float) -> int:
        return self.store.acted_since("kill", since)

    def opted_out(self, run: str) -> bool:
        record = self.store.run(run)
        return bool(record and record.opt_out)


_UNREADABLE: set[int] = set()


def _decodable(records: Iterable[ActionRecord]) -> list[ActionState]:
    """Records as actions; one that cannot be read (hand-edited, corrupt) is logged once and left out, not fatal."""
    found = []
    for record in records:
        try:
            found.append(_from_record(record, record.verdict_id or 0))
        except (ValueError, TypeError) as exc:
            if record.id not in _UNREADABLE:  # said once, not on every loop
                _UNREADABLE.add(record.id)
                log.error("action %s of run %s cannot be read (%s); skipped", record.id, record.run, exc)
    return found


def _from_record(record: ActionRecord, verdict_id: int) -> ActionState:
    if not isinstance(record.detail, dict | None) or (record.detail or {}).get("unreadable"):
        raise ValueError("its detail is not a JSON object")
    extra = {k: v for k, v in (record.detail or {}).items() if k in _DETAIL_FIELDS}
    return ActionState(
        key=ActionKey(record.run, verdict_id, record.kind),
        state=record.state,
        target=record.target or "",
        attempts=record.attempts,
        next_try_at=record.next_at or 0.0,
        audit=record.audit,
        created_at=record.created_at,
        updated_at=record.updated_at,
        **extra,
    )
