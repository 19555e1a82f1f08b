"""The ranking the main screen shows: each candidate with its triage, monitor, prediction and verdict joined in."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from rankinv.store.records import Candidate, RunRecord
from rankinv.store.writes import subject_of


def candidates_of(conn: sqlite3.Connection, runs: Sequence[RunRecord]) -> list[Candidate]:
    """Every SFT checkpoint and run with its triage, monitor, prediction and latest verdict joined in."""
    triage = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT c.path, t.entropy, t.pass1, t.headroom, t.expected_variance, t.degenerate_fraction, "
            "t.flagged FROM triage_reports t JOIN checkpoints c ON c.id = t.checkpoint_id"
        )
    }
    predictions = {r[0]: r[1:] for r in conn.execute("SELECT subject, value, lo, hi, basis FROM predictions")}
    verdicts = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT subject, decision, id, summary, confidence FROM verdicts WHERE id IN "
            "(SELECT MAX(id) FROM verdicts GROUP BY subject)"
        )
    }
    monitor = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT r.name, m.entropy, m.entropy_drop, m.zero_std_fraction FROM monitor m "
            "JOIN runs r ON r.id = m.run_id"
        )
    }
    checkpoints: dict[str, list[tuple[Any, ...]]] = {}
    for row in conn.execute(
        "SELECT r.name, c.path, c.step, c.triage_state FROM checkpoints c JOIN runs r ON r.id = c.run_id "
        "WHERE c.complete = 1 ORDER BY c.step"
    ):
        checkpoints.setdefault(row[0], []).append(row[1:])
    out: list[Candidate] = []
    for run in runs:
        subjects: list[tuple[str | None, int | None, str | None, str | None]] = []
        ckpts = checkpoints.get(run.name, [])
        if run.kind.lower() == "sft" and ckpts:
            subjects = [(path, step, state, path) for path, step, state in ckpts]
        else:  # a triaged checkpoint is a candidate whatever its run's kind
            subjects = [(None, run.last_step, None, run.parent)]
            subjects += [(path, step, state, path) for path, step, state in ckpts if path in triage]
        for checkpoint, step, triage_state, triage_source in subjects:
            subject = subject_of(run.name, checkpoint)
            t = triage.get(triage_source or "", (None,) * 6)
            p = predictions.get(subject, (None,) * 4)
            v = verdicts.get(subject, (None,) * 4)
            m = monitor.get(run.name, (None,) * 3) if checkpoint is None else (None,) * 3
            out.append(
                Candidate(
                    subject=subject,
                    run=run.name,
                    checkpoint=checkpoint,
                    kind="sft-checkpoint" if checkpoint else run.kind.lower(),
                    step=step,
                    status=run.status,
                    job_id=run.job_id,
                    job_state=run.job_state,
                    triage_state=triage_state,
                    pre_rl_entropy=t[0],
                    pass1=t[1],
                    headroom=t[2],
                    expected_variance=t[3],
                    degenerate_fraction=t[4],
                    flagged=bool(t[5]),
                    live_entropy=m[0],
                    entropy_drop=m[1],
                    zero_std_fraction=m[2],
                    predicted=p[0],
                    predicted_lo=p[1],
                    predicted_hi=p[2],
                    basis=p[3],
                    verdict=v[0],
                    verdict_id=v[1],
                    verdict_summary=v[2],
                    confidence=v[3],
                    acknowledged=v[1] is not None and run.acknowledged_verdict == v[1],
                    pinned=run.pinned == "continue",
                    opt_out=run.opt_out,
                    job_node=run.job_node,
                    job_elapsed=run.job_elapsed,
                    job_checked_at=run.job_checked_at,
                )
            )
    return out


def rank(candidates: list[Candidate]) -> tuple[Candidate, ...]:
    """Highest predicted final pass@10 first; unpredicted candidates last, by name."""
    return tuple(sorted(candidates, key=lambda c: (c.predicted is None, -(c.predicted or 0.0), c.subject)))
