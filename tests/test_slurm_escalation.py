"""Stopping real Slurm jobs on a real one-node cluster: armed, dry-run, someone else's job, restart, broken scancel.

Each job is a real ``sbatch`` job writing GRPO-format log records with collapsing entropy and trapping SIGUSR1
to save a checkpoint. The escalator is driven by calling ``tick()`` as the daemon's loop would.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from rankinv.daemon.actions import ledger as L
from rankinv.daemon.actions.escalate import Escalator, KillRequest
from rankinv.daemon.actions.ledger import ActionState, StoreLedger
from rankinv.daemon.actions.slurm import Slurm
from rankinv.daemon.notify.event import Event

from rankinv.config import ActionsConfig
from rankinv.store import Store
from tests.support.slurm_cluster import SlurmCluster, slurm_cluster, submit_grpo_job, wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
__all__ = ["slurm_cluster"]  # the session fixture, imported so pytest finds it here

REASON = "entropy drop 0.64 > 0.50 (steps 10→150)"
ARMED = ActionsConfig(armed=True, grace_seconds=2.0, confirm_seconds=15.0, max_kills_per_hour=20, slurm_retries=2)


@pytest.fixture(autouse=True)
def clean_queue(slurm_cluster: SlurmCluster) -> Iterator[None]:
    yield
    slurm_cluster.cancel_all()


def open_ledger(path: Path) -> StoreLedger:
    """The real store (as the daemon opens it) with the runs these tests use."""
    store = Store.open(path)
    for run in ("grpo-armed", "grpo-polite", "grpo-dry", "grpo-theirs", "grpo-restart", "grpo-flaky", "grpo-match"):
        store.upsert_run(run, run, kind="grpo")
    return StoreLedger(store)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[StoreLedger]:
    led = open_ledger(tmp_path / "store.sqlite")
    yield led
    led.store.close()


class Alerts(list[Event]):
    def kinds(self) -> list[str]:
        return [e.kind for e in self]


def escalator(
    cluster: SlurmCluster,
    ledger: StoreLedger,
    config: ActionsConfig,
    alerts: Alerts | None = None,
    *,
    env: dict[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> Escalator:
    slurm = Slurm(env=env or cluster.env, timeout=10, retries=config.slurm_retries, backoff=0.1)
    sink = alerts if alerts is not None else Alerts()
    return Escalator(ledger, config, slurm=slurm, alert=sink.append, clock=clock, retry_backoff=0.2, poll_seconds=0.5)


def running_job(cluster: SlurmCluster, run: str, mode: str = "continue", user: str | None = None) -> tuple[str, Path]:
    job_id, run_dir = submit_grpo_job(cluster, run, mode, user=user)
    cluster.wait_state(job_id, ("RUNNING",))
    wait_for(lambda: (run_dir / "rankinv-run.json").exists() and _lines(run_dir) >= 5, "the job's first log lines")
    return job_id, run_dir


def _lines(run_dir: Path) -> int:
    log = run_dir / "rankinv.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _usr1(run_dir: Path) -> int:
    log = run_dir / "usr1.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def drive(
    esc: Escalator, ledger: StoreLedger, rec: ActionState, done: Callable[[ActionState], bool], timeout: float = 40.0
) -> ActionState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        esc.tick()
        current = ledger.get(rec.key)
        assert current is not None
        if done(current):
            return current
        time.sleep(0.2)
    raise AssertionError(f"action stuck: {ledger.get(rec.key)}")


def request(run: str, run_dir: Path, verdict: int = 1) -> KillRequest:
    return KillRequest(run=run, run_dir=str(run_dir), verdict_id=verdict, step=150, reason=REASON)


def test_armed_signals_waits_cancels_and_the_job_is_gone(slurm_cluster: SlurmCluster, ledger: StoreLedger) -> None:
    job_id, run_dir = running_job(slurm_cluster, "grpo-armed")
    alerts = Alerts()
    esc = escalator(slurm_cluster, ledger, ARMED, alerts)
    rec = esc.request(request("grpo-armed", run_dir))
    assert rec.state == L.SIGNALLED and rec.target == f"slurm:{job_id}"
    wait_for(lambda: _usr1(run_dir) == 1, "SIGUSR1 to reach the batch script")
    assert any(p.name.startswith("checkpoint-") for p in run_dir.iterdir()), "the job saved on SIGUSR1"
    assert slurm_cluster.state(job_id) == "RUNNING", "still running during the grace period"
    final = drive(esc, ledger, rec, lambda r: not r.is_open)
    assert final.state == L.DONE
    assert slurm_cluster.state(job_id) == "", "the job left the queue"
    (stored,) = ledger.store.actions("grpo-armed")
    assert not stored.dry_run and stored.state == "done" and stored.audit == final.audit
    assert final.cancelled_at is not None and final.cancelled_at - (final.signalled_at or 0) >= ARMED.grace_seconds
    pattern = rf"run grpo-armed step 150: {re.escape(REASON)} → KILL job {job_id} \(USR1, grace 2 s, scancel ok\)"
    assert re.fullmatch(pattern, final.audit), final.audit
    assert "signalled" in alerts.kinds() and alerts.kinds()[-1] == L.DONE
    assert _usr1(run_dir) == 1


def test_a_job_that_exits_on_the_signal_needs_no_scancel(slurm_cluster: SlurmCluster, ledger: StoreLedger) -> None:
    job_id, run_dir = running_job(slurm_cluster, "grpo-polite", mode="exit")
    esc = escalator(slurm_cluster, ledger, replace(ARMED, grace_seconds=60.0))
    rec = esc.request(request("grpo-polite", run_dir))
    final = drive(esc, ledger, rec, lambda r: not r.is_open)
    assert final.state == L.DONE and final.cancelled_at is None
    assert final.audit.endswith(f"KILL job {job_id} (USR1, grace 60 s, exited during grace)")


def test_dry_run_records_the_would_be_action_and_the_job_keeps_running(
    slurm_cluster: SlurmCluster, ledger: StoreLedger
) -> None:
    job_id, run_dir = running_job(slurm_cluster, "grpo-dry")
    alerts = Alerts()
    esc = escalator(slurm_cluster, ledger, replace(ARMED, armed=False), alerts)
    rec = esc.request(request("grpo-dry", run_dir))
    assert rec.state == L.DRY_RUN and not rec.armed
    assert f"DRY-RUN would KILL job {job_id} (USR1, grace 2 s); not armed" in rec.audit
    assert alerts.kinds() == [L.DRY_RUN]
    before = _lines(run_dir)
    for _ in range(5):
        esc.tick()
    wait_for(lambda: _lines(run_dir) > before + 10, "the job to keep logging")
    assert slurm_cluster.state(job_id) == "RUNNING" and _usr1(run_dir) == 0
    assert esc.request(request("grpo-dry", run_dir)) == ledger.get(rec.key), "the same verdict is not re-decided"
    (stored,) = ledger.store.actions("grpo-dry")
    assert (
        stored.dry_run
        and stored.state == "dry_run"
        and stored.audit == rec.audit
        and stored.target == f"slurm:{job_id}"
    )


def test_match_by_name_takes_the_one_job_and_refuses_to_guess_between_two(
    slurm_cluster: SlurmCluster, ledger: StoreLedger
) -> None:
    job_id, run_dir = running_job(slurm_cluster, "grpo-match")
    (run_dir / "rankinv-run.json").unlink()  # no SLURM_JOB_ID: only squeue --me can find it
    esc = escalator(slurm_cluster, ledger, replace(ARMED, armed=False, match_by=("name",)))
    rec = esc.request(request("grpo-match", run_dir))
    assert rec.state == L.DRY_RUN and rec.target == f"slurm:{job_id}"
    twin, _ = submit_grpo_job(slurm_cluster, "grpo-match-twin", name="grpo-match")
    slurm_cluster.wait_state(twin, ("RUNNING", "PENDING"))
    rec2 = esc.request(request("grpo-match", run_dir, verdict=2))
    assert rec2.state == L.UNRESOLVED and f"2 jobs match ({job_id}, {twin}); not guessing" in rec2.audit


def test_another_users_job_is_never_touched(slurm_cluster: SlurmCluster, ledger: StoreLedger) -> None:
    job_id, run_dir = running_job(slurm_cluster, "grpo-theirs", user=slurm_cluster.other_user)
    alerts = Alerts()
    esc = escalator(slurm_cluster, ledger, ARMED, alerts)
    rec = esc.request(request("grpo-theirs", run_dir))
    assert rec.state == L.UNRESOLVED, "their job wrote the manifest: a file we do not own is no evidence"
    assert f"rankinv-run.json is owned by uid {slurm_cluster.other_uid}" in rec.audit
    ours = run_dir / "ours.json"  # the same manifest in a file of ours: Slurm ties the job, ownership refuses it
    ours.write_text((run_dir / "rankinv-run.json").read_text())
    ours.replace(run_dir / "rankinv-run.json")
    rec = esc.request(request("grpo-theirs", run_dir, verdict=2))
    assert rec.state == L.NOT_OWNER
    assert f"belongs to {slurm_cluster.other_user} (uid {slurm_cluster.other_uid})" in rec.audit
    by_name = escalator(slurm_cluster, ledger, replace(ARMED, match_by=("name",)))
    (run_dir / "rankinv-run.json").unlink()  # no manifest: only squeue --me could find it, and it is not ours
    rec2 = by_name.request(request("grpo-theirs", run_dir, verdict=3))
    assert rec2.state == L.UNRESOLVED and "no job of yours matches" in rec2.audit
    time.sleep(1.0)
    assert slurm_cluster.state(job_id) == "RUNNING" and _usr1(run_dir) == 0


def test_a_restart_during_the_grace_period_does_not_signal_twice(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    job_id, run_dir = running_job(slurm_cluster, "grpo-restart")
    config = replace(ARMED, grace_seconds=300.0)
    first = open_ledger(tmp_path / "store.sqlite")
    rec = escalator(slurm_cluster, first, config).request(request("grpo-restart", run_dir))
    first.store.close()  # the daemon dies during the grace period
    wait_for(lambda: _usr1(run_dir) == 1, "the first SIGUSR1")
    second = open_ledger(tmp_path / "store.sqlite")
    restarted = escalator(slurm_cluster, second, config)
    assert restarted.request(request("grpo-restart", run_dir)).state == L.SIGNALLED  # the verdict is re-issued
    for _ in range(10):
        restarted.tick()
    time.sleep(1.0)
    assert _usr1(run_dir) == 1 and slurm_cluster.state(job_id) == "RUNNING"
    later = escalator(slurm_cluster, second, config, clock=lambda: time.time() + 301)  # the grace period has passed
    final = drive(later, second, rec, lambda r: not r.is_open)
    second.store.close()
    assert final.state == L.DONE and slurm_cluster.state(job_id) == ""
    assert _usr1(run_dir) == 1


def test_a_broken_scancel_is_alerted_and_retried(
    slurm_cluster: SlurmCluster, ledger: StoreLedger, tmp_path: Path
) -> None:
    job_id, run_dir = running_job(slurm_cluster, "grpo-flaky")
    bin_dir, count = tmp_path / "bin", tmp_path / "scancel.calls"
    bin_dir.mkdir()
    flaky = bin_dir / "scancel"  # a stand-in that fails twice, then runs the real scancel
    flaky.write_text(
        f'#!/bin/sh\necho x >> {count}\n[ "$(wc -l < {count})" -le 2 ] && {{ echo "slurm_load: socket timed out" >&2; '
        f'exit 1; }}\nexec /usr/bin/scancel "$@"\n'
    )
    flaky.chmod(0o755)
    env = {**slurm_cluster.env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    alerts = Alerts()
    esc = escalator(slurm_cluster, ledger, replace(ARMED, graceful_signal="", slurm_retries=1), alerts, env=env)
    rec = esc.request(request("grpo-flaky", run_dir))
    assert rec.state == L.CANCELLING and rec.attempts == 1 and "socket timed out" in rec.detail
    final = drive(esc, ledger, rec, lambda r: not r.is_open)
    assert final.state == L.DONE and slurm_cluster.state(job_id) == ""
    errors = [e for e in alerts if e.kind == "error"]
    assert len(errors) == 2 and all("scancel" in e.body and "retry" in e.body for e in errors)
    assert len(count.read_text().splitlines()) >= 3
    assert final.audit.endswith(f"KILL job {job_id} (no graceful signal, scancel ok)")


def test_the_daemon_wiring_arms_from_the_cli_and_alerts_through_store_and_channels(
    slurm_cluster: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rankinv.daemon.actions.service import build_escalator
    from rankinv.daemon.notify.dispatch import build_dispatcher

    from rankinv.cli import main
    from rankinv.config import Config, NotifyConfig

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    job_id, run_dir = running_job(slurm_cluster, "grpo-wired")
    root = run_dir.parent
    hook_log = tmp_path / "hook.jsonl"
    config = Config(
        actions=replace(ARMED, armed=False),
        notify=NotifyConfig(terminal=False, desktop=False, command=f"sh -c 'cat >> {hook_log}; echo >> {hook_log}'"),
    )
    assert main(["arm", str(root), "--yes"]) == 0
    store = Store.open(tmp_path / "store.sqlite")
    store.upsert_run("grpo-wired", str(run_dir), kind="grpo")
    esc = build_escalator(root, config, store, build_dispatcher(config.notify), slurm=Slurm(env=slurm_cluster.env))
    rec = esc.request(request("grpo-wired", run_dir))
    final = drive(esc, StoreLedger(store), rec, lambda r: not r.is_open)
    assert final.state == L.DONE and slurm_cluster.state(job_id) == ""
    events = store.events()
    assert [e.kind for e in reversed(events)] == ["signalled", "done"] and events[0].run == "grpo-wired"
    assert f"KILL job {job_id}" in events[0].message and events[0].level == "alert"
    hooked = [json.loads(line) for line in hook_log.read_text().splitlines() if line.strip()]
    assert [h["kind"] for h in hooked] == ["signalled", "done"]
    store.close()
