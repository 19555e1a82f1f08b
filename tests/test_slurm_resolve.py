"""Runs outside Slurm: the manifest's pid is acted on only if it is the same process (start time, host, owner).

Real child processes stand for training runs; the manifest is what the TRL callback writes (its own
``process_start_time`` is used), so a change to either side's format breaks these tests.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from rankinv.daemon.actions import ledger as L
from rankinv.daemon.actions.arming import read_armed, set_armed
from rankinv.daemon.actions.escalate import Escalator, KillRequest
from rankinv.daemon.actions.ledger import StoreLedger
from rankinv.daemon.actions.resolve import resolve
from rankinv.daemon.actions.slurm import Slurm, SlurmError

from rankinv.config import ActionsConfig
from rankinv.errors import RankinvError
from rankinv.integrations.trl import process_start_time
from rankinv.store import Store
from tests.support.slurm_cluster import OTHER_USER, ensure_user, wait_for

TRAINER = """
import signal, sys, time, pathlib, types
from rankinv.integrations.trl import RankinvCallbackCore
out, run = pathlib.Path(sys.argv[1]), sys.argv[2]
callback = RankinvCallbackCore(output_dir=run, kind="GRPO")  # the real callback: manifest, token, log held open
callback.on_train_begin(types.SimpleNamespace(output_dir=run), types.SimpleNamespace(is_world_process_zero=True), None)
signal.signal(signal.SIGUSR1, lambda *a: out.open("a").write("usr1\\n"))
out.open("a").write("started\\n")
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def trainer(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A training process running the TRL callback's own code on ``tmp_path/run``."""
    proc = subprocess.Popen([sys.executable, "-c", TRAINER, str(tmp_path / "trainer.log"), str(tmp_path / "run")])
    wait_for((tmp_path / "trainer.log").exists, "the trainer to start")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def write_manifest(run_dir: Path, pid: int, **extra: object) -> None:
    run_dir.mkdir(exist_ok=True)
    manifest = {
        "kind": "grpo",
        "slurm_job_id": None,
        "slurm": {},
        "host": socket.gethostname(),
        "pid": pid,
        "process_start_time": process_start_time(pid),
        **extra,
    }
    (run_dir / "rankinv-run.json").write_text(json.dumps(manifest))


def change_manifest(run_dir: Path, **change: object) -> None:
    manifest = json.loads((run_dir / "rankinv-run.json").read_text())
    (run_dir / "rankinv-run.json").write_text(json.dumps({**manifest, **change}))


NO_LEDGER = cast(StoreLedger, None)  # never reached: the settings are refused first


def no_slurm(tmp_path: Path) -> Slurm:
    return Slurm(env={"PATH": str(tmp_path / "nothing")})  # no Slurm here: resolution must not need it


def test_the_manifest_pid_is_found_when_it_is_the_same_process(
    tmp_path: Path, trainer: subprocess.Popen[bytes]
) -> None:
    target = resolve(tmp_path / "run", "run", no_slurm(tmp_path))
    assert (target.kind, target.pid) == ("process", trainer.pid) and "start time verified" in target.how
    assert "rankinv.jsonl open for writing" in target.how


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"process_start_time": 12345.0, "pid_start_ticks": None}, "different process now"),
        ({"host": "some-other-node"}, "ran on another host"),
        ({"pid": None}, "no SLURM_JOB_ID or pid"),
    ],
)
def test_a_different_process_host_or_no_pid_is_never_acted_on(
    tmp_path: Path, trainer: subprocess.Popen[bytes], change: dict[str, object], why: str
) -> None:
    change_manifest(tmp_path / "run", **change)
    target = resolve(tmp_path / "run", "run", no_slurm(tmp_path))
    assert target.kind == "none" and why in target.how


def test_an_exited_process_is_not_found(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"])
    write_manifest(tmp_path / "run", proc.pid, process_start_time=time.time())
    proc.wait()
    assert "no longer exists" in resolve(tmp_path / "run", "run", no_slurm(tmp_path)).how


def test_bad_action_settings_are_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(SlurmError, match="match_by: unknown"):
        resolve(tmp_path, "run", no_slurm(tmp_path), ("partition",))
    with pytest.raises(RankinvError, match=r"match_by: unknown \['partition'\]"):
        Escalator(NO_LEDGER, ActionsConfig(match_by=("name", "partition")))
    with pytest.raises(RankinvError, match="'USR3' is not a signal name"):
        Escalator(NO_LEDGER, ActionsConfig(graceful_signal="USR3"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "store.sqlite")
    s.upsert_run("run", str(tmp_path / "run"))
    yield s
    s.close()


def escalator(store: Store, tmp_path: Path, **config: object) -> Escalator:
    actions = ActionsConfig(**{"armed": True, "grace_seconds": 0.5, "confirm_seconds": 5.0, **config})  # type: ignore[arg-type]
    return Escalator(StoreLedger(store), actions, slurm=no_slurm(tmp_path), retry_backoff=0.1, poll_seconds=0.2)


def drive(esc: Escalator, store: Store, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and StoreLedger(store).open_actions():
        esc.tick()
        time.sleep(0.05)
    (action,) = store.actions("run")
    return action.state


def test_a_local_run_gets_usr1_then_sigterm(tmp_path: Path, store: Store, trainer: subprocess.Popen[bytes]) -> None:
    esc = escalator(store, tmp_path)
    assert esc.request(KillRequest("run", str(tmp_path / "run"), 1, 150, "entropy drop")).state == L.SIGNALLED
    wait_for(lambda: "usr1" in (tmp_path / "trainer.log").read_text(), "SIGUSR1 at the trainer")
    assert drive(esc, store) == L.DONE
    assert trainer.wait(timeout=10) == -signal.SIGTERM
    assert store.actions("run")[0].audit.endswith(f"KILL pid {trainer.pid} (USR1, grace 0.5 s, SIGTERM ok)")


def test_someone_elses_process_is_never_signalled(tmp_path: Path, store: Store) -> None:
    other_uid = ensure_user(OTHER_USER)
    token = "t" * 32  # exported by its launcher, so the process carries it: only ownership is left to refuse it
    launcher_env = {"PATH": "/usr/bin:/bin", "RANKINV_RUN_TOKEN": token, "RANKINV_RUN_DIR": str(tmp_path / "run")}
    proc = subprocess.Popen(["sleep", "30"], user=OTHER_USER, env=launcher_env)
    try:  # until exec, /proc/PID/environ is still the forked test's
        wait_for(lambda: token.encode() in Path(f"/proc/{proc.pid}/environ").read_bytes(), "exec with the token")
        write_manifest(tmp_path / "run", proc.pid, run_token=token)
        rec = escalator(store, tmp_path).request(KillRequest("run", str(tmp_path / "run"), 1, 150, "entropy drop"))
        assert rec.state == L.NOT_OWNER and f"pid {proc.pid} belongs to uid {other_uid}" in rec.audit
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_opted_out_and_rate_limited_runs_only_alert(
    tmp_path: Path, store: Store, trainer: subprocess.Popen[bytes]
) -> None:
    store.set_run_flags("run", opt_out=True)
    rec = escalator(store, tmp_path).request(KillRequest("run", str(tmp_path / "run"), 1, 150, "entropy drop"))
    assert rec.state == L.OPTED_OUT and "opted out" in rec.audit
    store.set_run_flags("run", opt_out=False)
    rec = escalator(store, tmp_path, max_kills_per_hour=0).request(KillRequest("run", str(tmp_path / "run"), 2))
    assert rec.state == L.RATE_LIMITED and "0 kills in the last hour (max 0)" in rec.audit
    assert trainer.poll() is None and "usr1" not in (tmp_path / "trainer.log").read_text()


def test_disarming_during_the_grace_period_stops_the_escalation(
    tmp_path: Path, store: Store, trainer: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root, actions = tmp_path, ActionsConfig(armed=False, grace_seconds=30.0)
    set_armed(root, True)  # overrides armed = false in the config
    esc = Escalator(
        StoreLedger(store), actions, slurm=no_slurm(tmp_path), armed=lambda: read_armed(root, actions).armed
    )
    assert esc.request(KillRequest("run", str(tmp_path / "run"), 1)).state == L.SIGNALLED
    set_armed(root, False)
    (rec,) = esc.tick()
    assert rec.state == L.ABORTED and "disarmed during the grace period" in rec.audit
    assert trainer.poll() is None
