"""Never lose, never repeat: the daemon SIGKILLed at random points while a run writes, then restarted.

The run's log is written in random chunks (sometimes ending mid-line) between kills; the final store must
hold exactly the points the log holds, the verdict history must have no repeated rows, the KILL verdict must
have exactly one action in the ledger, and a restarted daemon must resume from the stored offsets (it counts
the points it writes: zero for an unchanged log, exactly the new ones after an append).
"""

from __future__ import annotations

import itertools
import random
import signal
import time
from pathlib import Path

from rankinv.store import Store
from tests.support import daemon as D
from tests.support.fakelog import append, expected_points, make_run, record

CONFIG = """
[daemon]
debounce_seconds = 0.05
heartbeat_seconds = 0.5
"""


def _ready(root: Path, state: Path, pid: int) -> bool:
    def probe(store: Store) -> bool:
        h = store.health()
        return h.alive and h.get("pid") == str(pid) and h.get("ready") == "true"

    return D.read(root, state, probe)


def test_sigkill_at_random_points_loses_and_repeats_nothing(tmp_path: Path) -> None:
    rng = random.Random(6)
    root, state = tmp_path / "root", tmp_path / "state"
    run = make_run(root / "grpo")
    (tmp_path / "c.toml").write_text(CONFIG)
    text = "".join(record(step) for step in range(1, 221))
    written = 0
    for _ in range(6):
        proc = D.start(root, state, "--config", str(tmp_path / "c.toml"))
        if rng.random() < 0.5:  # sometimes kill it before it is even ready
            D.wait_for("daemon ready", lambda p=proc: _ready(root, state, p.pid))
        chunk = rng.randint(15, 45) * 40  # about as many lines, cut anywhere (often mid-line)
        append(run, text[written : written + chunk])
        written += chunk
        time.sleep(rng.uniform(0.0, 1.2))  # the random crash point (not an assertion)
        assert D.stop(proc, signal.SIGKILL) == -signal.SIGKILL
    proc = D.start(root, state, "--config", str(tmp_path / "c.toml"))
    try:
        append(run, text[written:])
        expected = expected_points(run, "grpo")
        assert ("entropy", 220) in expected
        D.wait_for("every point exactly once", lambda: D.read(root, state, lambda s: D.metrics(s, "grpo")) == expected)
        D.wait_for("the KILL verdict", lambda: D.read(
            root, state, lambda s: (v := s.latest_verdict("grpo")) is not None and v.decision == "KILL"))
        history = D.read(root, state, lambda s: list(reversed(s.verdicts("grpo"))))
        pairs = [(v.decision, v.summary) for v in history]
        assert all(a != b for a, b in itertools.pairwise(pairs)), pairs  # a new row only when the decision changes
        kills = D.wait_for("the kill action", lambda: D.read(
            root, state, lambda s: [a for a in s.actions("grpo") if a.kind == "kill"]))
        streak = [v.id for v in history if v.decision == "KILL"]
        assert [a.verdict_id for a in kills] == [streak[0]], (pairs, kills)  # one action per KILL streak
        assert kills[0].dry_run  # never armed: recorded, not done

        assert D.stop(proc, signal.SIGKILL) == -signal.SIGKILL
        proc = D.start(root, state, "--config", str(tmp_path / "c.toml"))
        D.wait_for("restarted daemon ready", lambda: _ready(root, state, proc.pid))
        assert D.read(root, state, lambda s: s.health().get("points_ingested")) == "0"  # resumed, not re-read
        append(run, "".join(record(step) for step in range(221, 231)))
        new = expected_points(run, "grpo")
        D.wait_for("the appended points", lambda: D.read(root, state, lambda s: D.metrics(s, "grpo")) == new)
        assert D.read(root, state, lambda s: s.health().get("points_ingested")) == str(len(new) - len(expected))
        assert D.read(root, state, lambda s: [a.id for a in s.actions("grpo") if a.kind == "kill"]) == [kills[0].id]
    finally:
        D.stop(proc)


def test_sigkill_in_the_middle_of_a_batch_of_many_runs_loses_and_repeats_nothing(tmp_path: Path) -> None:
    """Points and offsets of a whole batch of runs share one transaction: a kill at any moment of it keeps all of
    the batch or none, and the restarted daemon reads from the stored offsets of every run."""
    rng = random.Random(11)
    root, state = tmp_path / "root", tmp_path / "state"
    runs = [make_run(root / f"grpo-{i:02d}") for i in range(40)]
    (tmp_path / "c.toml").write_text(CONFIG)
    text = "".join(record(step) for step in range(1, 61))
    written = 0
    for _ in range(5):
        proc = D.start(root, state, "--config", str(tmp_path / "c.toml"))
        D.wait_for("daemon ready", lambda p=proc: _ready(root, state, p.pid))
        chunk = rng.randint(5, 12) * 40  # cut anywhere, often mid-line; every run gets it in the same burst
        for run in runs:
            append(run, text[written : written + chunk])
        written += chunk
        time.sleep(rng.uniform(0.0, 0.8))  # the random crash point: somewhere inside the batch (not an assertion)
        assert D.stop(proc, signal.SIGKILL) == -signal.SIGKILL
    proc = D.start(root, state, "--config", str(tmp_path / "c.toml"))
    try:
        for run in runs:
            append(run, text[written:])
        expected = {run.name: expected_points(run, run.name) for run in runs}
        assert all(("entropy", 60) in e for e in expected.values())
        D.wait_for("every point of every run exactly once", lambda: D.read(
            root, state, lambda s: {run.name: D.metrics(s, run.name) for run in runs}) == expected)  # fmt: skip
    finally:
        D.stop(proc)
