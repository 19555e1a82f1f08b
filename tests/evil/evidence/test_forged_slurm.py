"""A planted Slurm job id never leads to a signal: on the real one-node cluster, an armed escalator (as the
daemon builds it) stops a job only when Slurm's own record ties it to the run directory.

The attacker's run directory names an unrelated job of the user's (job ids are visible to everyone in
``squeue``), even one whose name equals the planted directory's name. The genuine job, whose working directory
is its run directory, is still stopped.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rankinv.daemon.actions import ledger as L
from rankinv.daemon.actions.escalate import Escalator, KillRequest
from rankinv.daemon.actions.ledger import StoreLedger
from rankinv.daemon.actions.slurm import Slurm

from rankinv.config import ActionsConfig
from rankinv.store import Store
from tests.support.fakelog import record
from tests.support.slurm_cluster import SlurmCluster, slurm_cluster, submit_grpo_job, wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
__all__ = ["slurm_cluster"]  # the session fixture, imported so pytest finds it here

ARMED = ActionsConfig(armed=True, grace_seconds=1.0, confirm_seconds=15.0, max_kills_per_hour=20, slurm_retries=2)
RUNS = ("evil-genuine", "evil-forged", "evil-named")


@pytest.fixture(autouse=True)
def clean_queue(slurm_cluster: SlurmCluster) -> Iterator[None]:
    yield
    slurm_cluster.cancel_all()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "store.sqlite")
    for run in RUNS:
        s.upsert_run(run, run, kind="grpo")
    yield s
    s.close()


def escalator(cluster: SlurmCluster, store: Store) -> Escalator:
    slurm = Slurm(env=cluster.env, timeout=10, retries=2, backoff=0.1)
    return Escalator(StoreLedger(store), ARMED, slurm=slurm, retry_backoff=0.2, poll_seconds=0.5)


def unrelated_job(cluster: SlurmCluster, name: str) -> tuple[str, Path]:
    """A job of the user's working and writing elsewhere; SIGUSR1 or scancel would end it."""
    elsewhere = cluster.dir / "jobs" / f"elsewhere-{name}"
    elsewhere.mkdir(exist_ok=True)
    job_id = cluster.sbatch("-J", name, "-D", str(elsewhere), "-o", str(elsewhere / "out"), "--wrap", "sleep 300")
    cluster.wait_state(job_id, ("RUNNING",))
    return job_id, elsewhere


def planted(cluster: SlurmCluster, run: str, job_id: str) -> Path:
    run_dir = cluster.dir / "jobs" / run
    run_dir.mkdir()
    manifest = {"kind": "grpo", "slurm_job_id": job_id, "slurm": {"SLURM_JOB_ID": job_id}, "host": socket.gethostname()}
    (run_dir / "rankinv-run.json").write_text(json.dumps(manifest))
    (run_dir / "rankinv.jsonl").write_text("".join(record(step) for step in range(1, 221)))
    return run_dir


def drive(esc: Escalator, store: Store, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and StoreLedger(store).open_actions():
        esc.tick()
        time.sleep(0.2)


def test_slurms_record_is_read_as_submitted(slurm_cluster: SlurmCluster) -> None:
    job_id, elsewhere = unrelated_job(slurm_cluster, "evil-record")
    rec = Slurm(env=slurm_cluster.env).record(job_id)
    assert rec is not None and rec.uid == 0 and rec.name == "evil-record" and rec.state == "RUNNING"
    assert (rec.workdir, rec.stdout) == (str(elsewhere), str(elsewhere / "out"))
    assert Slurm(env=slurm_cluster.env).record("999999") is None


def test_a_forged_job_id_is_never_signalled_and_the_genuine_job_is(slurm_cluster: SlurmCluster, store: Store) -> None:
    genuine_id, genuine_dir = submit_grpo_job(slurm_cluster, "evil-genuine")
    slurm_cluster.wait_state(genuine_id, ("RUNNING",))
    victim, _ = unrelated_job(slurm_cluster, "something-else")
    named_victim, _ = unrelated_job(slurm_cluster, "evil-named")  # same name as the planted directory
    forged, named = planted(slurm_cluster, "evil-forged", victim), planted(slurm_cluster, "evil-named", named_victim)
    esc = escalator(slurm_cluster, store)
    for verdict, (run, run_dir) in enumerate((("evil-forged", forged), ("evil-named", named)), start=1):
        rec = esc.request(KillRequest(run, str(run_dir), verdict, 150, "entropy drop"))
        assert rec.state == L.UNRESOLVED and "evidence does not match" in rec.audit, rec.audit
        assert f"is not tied to {run_dir} by Slurm" in rec.audit
    wait_for((genuine_dir / "rankinv-run.json").exists, "the genuine job's manifest")
    esc.request(KillRequest("evil-genuine", str(genuine_dir), 3, 150, "entropy drop"))
    drive(esc, store)
    (done,) = store.actions("evil-genuine")
    assert done.state == L.DONE and f"KILL job {genuine_id}" in done.audit
    assert slurm_cluster.state(genuine_id) == "" and (genuine_dir / "usr1.log").exists()
    assert slurm_cluster.state(victim) == "RUNNING" and slurm_cluster.state(named_victim) == "RUNNING"
