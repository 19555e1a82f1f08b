"""A collapsing GRPO run known only by its Slurm stdout, found, read at true steps and stopped by the daemon.

The stdout is real TRL output held out of the reader's development (``tests/data/reallogs/heldout-grpo-collapse``:
an SFT checkpoint trained by GRPO on the task's own reward at a learning rate that collapses it onto wrong answers;
entropy 3.5 → 0.26 in 40 steps, reward stuck low). Each job on
the real one-node Slurm is a stand-in *writer* for that training process (there is no time to train inside the
test): it writes the recorded bytes to its own stdout at a steady pace, as the trainer did, then keeps running.
Layouts: ``slurm-%j.out`` in the run directory, and ``logs/%x-%j.out`` beside an empty run directory (attributed
through Slurm's StdOut/WorkDir). The armed root's daemon stops both; a dry-run root's job and another user's job
in the armed root keep running.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rankinv.store import Store
from tests.support import daemon as D
from tests.support.slurm_cluster import SlurmCluster, slurm_cluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
__all__ = ["slurm_cluster"]

HELDOUT = Path(__file__).parent / "data" / "reallogs" / "heldout-grpo-collapse"
DECISION_STEP = 20
CONFIG = f"""
[monitor]
baseline_step = 2
decision_step = {DECISION_STEP}
[verdict]
warmup_steps = 5
hold_steps = 4
[actions]
armed = {{armed}}
grace_seconds = 2
confirm_seconds = 15
max_kills_per_hour = 20
[daemon]
evaluate_seconds = 0.5
triage_executor = "none"
"""
WRITER = """\
#!/usr/bin/python3
# Stand-in for the training process: writes a recorded TRL stdout at a steady pace, then keeps running.
import signal, sys, time
signal.signal(signal.SIGUSR1, lambda *_: None)  # saved nothing: scancel has to finish it
data = open(sys.argv[1], "rb").read()
out = sys.stdout.buffer
for line in data.splitlines(keepends=True):
    out.write(line)
    out.flush()
    time.sleep(0.15)
while True:
    time.sleep(1)
"""


@pytest.fixture(autouse=True)
def clean_queue(slurm_cluster: SlurmCluster) -> Iterator[None]:
    yield
    slurm_cluster.cancel_all()


def _oracle_steps() -> list[int]:
    history = json.loads((HELDOUT / "trainer_state.json").read_text())["log_history"]
    return [e["step"] for e in history if "entropy" in e]


def _root(base: Path, armed: bool) -> Path:
    base.mkdir(parents=True)
    base.chmod(0o777)  # another user's job writes here too
    (base / "rankinv.toml").write_text(CONFIG.format(armed=str(armed).lower()))
    return base


def _writer(cluster: SlurmCluster) -> Path:
    script = cluster.dir / "jobs" / "replay_stdout.py"
    script.write_text(WRITER)
    script.chmod(0o755)
    held = cluster.dir / "jobs" / "heldout.out"
    held.write_bytes((HELDOUT / "stdout.out").read_bytes())
    held.chmod(0o644)
    return script


def _submit(cluster: SlurmCluster, script: Path, run_dir: Path, out: str, user: str | None = None) -> str:
    run_dir.mkdir(mode=0o777, exist_ok=True)
    os.chmod(run_dir, 0o777)
    held = cluster.dir / "jobs" / "heldout.out"
    return cluster.sbatch("-J", run_dir.name, "-D", str(run_dir), "-o", out, str(script), str(held), user=user)


def _decision_line_written(log: Path) -> float | None:
    """When the stdout first held the decision step's record (the bar redrawn after it at step 20)."""
    try:
        text = log.read_bytes().decode(errors="replace")
    except OSError:
        return None
    return time.time() if f"| {DECISION_STEP}/40 [" in text else None


def test_armed_daemon_stops_stdout_only_runs_in_both_layouts(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    cluster = slurm_cluster
    script = _writer(cluster)
    armed = _root(cluster.dir / "jobs" / f"armed-{time.monotonic_ns()}", armed=True)
    dry = _root(cluster.dir / "jobs" / f"dry-{time.monotonic_ns()}", armed=False)
    (armed / "logs").mkdir(mode=0o777)

    job_a = _submit(cluster, script, armed / "grpo-a", str(armed / "grpo-a" / "slurm-%j.out"))
    job_b = _submit(cluster, script, armed / "grpo-b", str(armed / "logs" / "%x-%j.out"))
    theirs = _submit(cluster, script, armed / "grpo-theirs", str(armed / "grpo-theirs" / "slurm-%j.out"),
                     user=cluster.other_user)  # fmt: skip
    job_dry = _submit(cluster, script, dry / "grpo-dry", str(dry / "grpo-dry" / "slurm-%j.out"))
    for job in (job_a, job_b, theirs, job_dry):
        cluster.wait_state(job, ("RUNNING",))

    log_a, log_b = armed / "grpo-a" / f"slurm-{job_a}.out", armed / "logs" / f"grpo-b-{job_b}.out"
    env = {"SLURM_CONF": cluster.env["SLURM_CONF"], "PATH": cluster.env["PATH"]}
    daemons = [D.start(armed, tmp_path / "state-armed", "--poll", extra_env=env),
               D.start(dry, tmp_path / "state-dry", "--poll", extra_env=env)]  # fmt: skip
    try:
        seen = {"a": D.wait_for("the decision step in layout A", lambda: _decision_line_written(log_a), 60),
                "b": D.wait_for("the decision step in layout B", lambda: _decision_line_written(log_b), 60)}
        for run, job in (("grpo-a", job_a), ("grpo-b", job_b)):
            D.wait_for(f"{run} stopped", lambda job=job: cluster.state(job) == "", 90)
            D.wait_for(f"{run}'s action done", lambda run=run: _done(armed, tmp_path / "state-armed", run), 30)
        _check_kill(armed, tmp_path / "state-armed", "grpo-a", job_a, seen["a"])
        _check_kill(armed, tmp_path / "state-armed", "grpo-b", job_b, seen["b"])
        dry_run = D.wait_for("the dry-run record", lambda: _dry_action(dry, tmp_path / "state-dry"), 60)
        assert f"DRY-RUN would KILL job {job_dry}" in dry_run.audit
        theirs_action = D.wait_for("the other user's run judged", lambda: _action(armed, tmp_path / "state-armed",
                                                                                  "grpo-theirs"), 60)  # fmt: skip
        assert theirs_action.state != "done" and f"job {theirs} belongs to {cluster.other_user}" in theirs_action.audit
        assert cluster.state(job_dry) == "RUNNING" and cluster.state(theirs) == "RUNNING"
    finally:
        for proc in daemons:
            D.stop(proc)


def _check_kill(root: Path, state: Path, run: str, job: str, decision_written: float) -> None:
    def read(store: Store) -> tuple[dict[tuple[str, int], float], list, list]:
        return D.metrics(store, run), list(store.verdicts(run)), list(store.actions(run))

    points, verdicts, actions = D.read(root, state, read)
    steps = sorted(s for name, s in points if name == "entropy")
    assert steps == _oracle_steps()[: len(steps)] and steps[-1] >= DECISION_STEP  # the true steps, 2, 4, …
    first_kill = min((v for v in verdicts if v.decision == "KILL"), key=lambda v: v.id)
    # never before the decision step; which logged step the first KILL names depends on how far the log has
    # grown when the daemon next judges (one judgement per evaluate_seconds): time is the measure
    assert first_kill.step is not None and first_kill.step >= DECISION_STEP
    assert first_kill.created_at - decision_written < 10, "KILL within seconds of the decision step"
    done = [a for a in actions if a.state == "done"]
    assert done and done[0].target == f"slurm:{job}" and not done[0].dry_run, actions


def _done(root: Path, state: Path, run: str) -> bool:
    return any(a.state == "done" for a in D.read(root, state, lambda s: list(s.actions(run))))


def _dry_action(root: Path, state: Path) -> Any:
    acts = D.read(root, state, lambda s: list(s.actions("grpo-dry")))
    return next((a for a in acts if a.dry_run and "DRY-RUN" in a.audit), None)


def _action(root: Path, state: Path, run: str) -> Any:
    acts = D.read(root, state, lambda s: list(s.actions(run)))
    return next((a for a in acts if a.audit), None)
