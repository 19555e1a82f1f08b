"""Writing a verdict returns the subject's decision before it, so announcing a verdict reads no verdict again.

Oracles: the decisions this test wrote, kept in a plain dict per subject (the previous decision is the last one
written for that subject, None for its first), and the table itself read back afterwards (the row before each new
row, by id, for the same subject). Through every write path: ``put_verdict``, ``put_verdicts`` with the refresh
and first-verdict statements, with a subject twice in a batch, and after a reopen (nothing remembered).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon.pipeline.act import Actions
from rankinv.daemon.pipeline.brain import Brain

from rankinv.config import Config
from rankinv.messages import Reason
from rankinv.store import Store, subject_of
from rankinv.store.writes import VerdictRow, VerdictWrite
from rankinv.verdict import Decision, Verdict
from tests.support.pipeline import count_statements

CKPT = "/runs/r/checkpoint-5"
# rounds of (run, checkpoint, decision, summary); a round is one put_verdicts batch
ROUNDS: list[list[tuple[str, str | None, str, str]]] = [
    [("r", None, "CONTINUE", "a"), ("s", None, "WATCH", "w")],  # first verdicts: previous None
    [("r", None, "CONTINUE", "a"), ("s", None, "WATCH", "w")],  # refreshed: the same decision
    [("r", None, "CONTINUE", "b"), ("s", None, "WATCH", "w")],  # a summary-only change: new row, same decision
    [("r", None, "KILL", "k1"), ("r", CKPT, "WATCH", "c")],  # a decision change; a checkpoint's first
    [("r", None, "KILL", "k2"), ("r", CKPT, "WATCH", "c")],  # a KILL whose reasons change
    [("r", None, "WATCH", "w"), ("r", None, "KILL", "k3")],  # a subject twice in one batch: each sees the one before
    [("r", None, "KILL", "k3"), ("s", None, "CONTINUE", "x"), ("r", CKPT, "KILL", "c")],
]
REOPEN_AFTER = 4  # the rounds from here on are written by a store reopened on the file: read from the table


def _row(run: str, checkpoint: str | None, decision: str, summary: str, step: int) -> VerdictRow:
    return run, checkpoint, step, decision, 0.5, "2", summary, [Reason("entropy_drop", 0.4, 0.5, ">", 1, step, "watch")]


def _open(path: Path) -> Store:
    store = Store.open(path)
    for run in ("r", "s"):
        store.upsert_run(run, f"/runs/{run}", kind="grpo")
    store.upsert_checkpoint("r", CKPT, 5, True)
    return store


@pytest.mark.parametrize("mode", ["put_verdict", "put_verdicts"])
def test_the_previous_decision_is_the_last_one_written_for_the_subject(tmp_path: Path, mode: str) -> None:
    last: dict[str, tuple[str, str]] = {}  # subject -> (decision, summary) this test last wrote
    got: list[tuple[str, VerdictWrite]] = []
    store = _open(tmp_path / "s.sqlite")
    try:
        for i, rows in enumerate(ROUNDS):
            if i == REOPEN_AFTER:
                store.close()
                store = _open(tmp_path / "s.sqlite")
            full = [_row(*r, step=i + 1) for r in rows]
            if mode == "put_verdicts":
                written = store.put_verdicts(full)
            else:
                written = [store.put_verdict(run, ckpt, step=step, decision=d, confidence=c, stage=st, summary=su,
                                             reasons=rs) for run, ckpt, step, d, c, st, su, rs in full]  # fmt: skip
            assert len(written) == len(rows)
            for (run, ckpt, decision, summary), w in zip(rows, written, strict=True):
                subject = subject_of(run, ckpt)
                before = last.get(subject)
                assert w.previous == (before[0] if before else None), (i, subject)
                assert w.is_new == (before != (decision, summary)), (i, subject)
                last[subject] = (decision, summary)
                got.append((subject, w))
        # the second oracle, the table: each new row's previous decision is the row before it for its subject
        table = sorted(store.verdicts("r", limit=1000) + store.verdicts("s", limit=1000), key=lambda v: v.id)
    finally:
        store.close()
    for subject, w in got:
        if w.is_new:
            earlier = [v.decision for v in table if v.subject == subject and v.id < w.id]
            assert w.previous == (earlier[-1] if earlier else None), (subject, w)
    kinds = Counter((w.is_new, w.previous is None) for _, w in got)
    assert kinds[(True, True)] == 3 and kinds[(False, False)] >= 3 and kinds[(True, False)] >= 6  # every case met


class _Sent:
    """The dispatcher's side: the alerts sent."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def send(self, event: Any) -> None:
        self.events.append(event)


class _Kills:
    """The escalator's side: the kill requests, by the verdict id the streak started at."""

    def __init__(self) -> None:
        self.first_ids: list[int] = []

    def request(self, req: Any) -> None:
        self.first_ids.append(req.verdict_id)

    def tick(self) -> None:
        pass


def _verdict(decision: str, note: str, step: int) -> Verdict:
    grade = {"KILL": "kill", "WATCH": "watch"}.get(decision, "protect")  # all in the headline
    return Verdict(Decision(decision), (Reason(note, math.nan, math.nan, "", None, None, grade),), 0.9, step)


def test_announcing_a_verdict_reads_no_verdict_and_a_kill_with_new_reasons_is_not_alerted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new verdict's event level comes from the previous decision the write returned: no verdicts are read to
    learn it (a KILL reads them once, for the start of its streak), and a KILL whose reasons change is an info
    event, not a second alert."""
    cfg = Config()
    script = [("CONTINUE", "fine"), ("CONTINUE", "still fine"), ("KILL", "entropy collapse"),
              ("KILL", "entropy collapse; all groups fail"), ("WATCH", "recovering"), ("KILL", "entropy collapse")]
    expected = ["info", "info", "alert", "info", "warning", "alert"]  # the decisions this test chose, in order
    with _open(tmp_path / "s.sqlite") as store:
        actions = Actions(tmp_path / "root", cfg, store)
        sent, kills = _Sent(), _Kills()
        actions.dispatcher, actions.escalator = sent, kills  # type: ignore[assignment]
        brain = Brain(store, cfg)
        statements = count_statements(monkeypatch)
        ids = []
        for step, (decision, note) in enumerate(script, start=1):
            outcome = brain._put_verdict("r", None, _verdict(decision, note, step), stage="2")
            assert outcome.is_new
            ids.append(outcome.verdict_id)
            statements.clear()
            actions.on_outcome(outcome, "/runs/r")
            verdict_reads = sum(n for sql, n in statements.items() if sql.startswith("SELECT v.id, r.name,"))
            assert verdict_reads == (1 if decision == "KILL" else 0), (step, statements)
        events = [e for e in store.events(limit=100) if e.kind == "verdict"]
    assert [e.level for e in reversed(events)] == expected
    assert [e.severity for e in sent.events] == ["critical", "critical"]
    assert kills.first_ids == [ids[2], ids[2], ids[5]]  # one streak per unbroken run of KILLs
