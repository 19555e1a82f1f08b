"""Planted manifests never steer a kill: an armed daemon signals only a process that ties itself to the run.

A hostile colleague with write access to the runs root can copy pid, host and start time of any process of
the user's (all readable in /proc) into a ``rankinv-run.json``, write fields of the wrong type, or plant a
symlink, FIFO or someone else's file. Each must end as an alert ("evidence does not match: …"), never a
signal, while a genuine run — the TRL callback's own code in a real process — is still stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rankinv.daemon.actions.resolve import resolve
from rankinv.daemon.actions.slurm import Slurm

from rankinv.integrations.trl import process_start_ticks, process_start_time
from rankinv.store import Store
from tests.support import daemon as D
from tests.support.fakelog import record
from tests.support.slurm_cluster import OTHER_USER, ensure_user, wait_for

CONFIG = """
[daemon]
debounce_seconds = 0.05
heartbeat_seconds = 0.5
[actions]
armed = true
grace_seconds = 1
confirm_seconds = 10
"""


def unrelated() -> subprocess.Popen[bytes]:
    """A process of the user's that has nothing to do with any run (a SIGUSR1 or SIGTERM would end it)."""
    return subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL)


def copied_manifest(pid: int, **extra: object) -> dict[str, object]:
    """What an attacker can copy from /proc about someone's process: pid, host, start time."""
    return {
        "kind": "GRPO",
        "group_size": 4,
        "host": socket.gethostname(),
        "pid": pid,
        "pid_start_ticks": process_start_ticks(pid),
        "process_start_time": process_start_time(pid),
        **extra,
    }


def planted_run(run_dir: Path, manifest: dict[str, object]) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "rankinv-run.json").write_text(json.dumps(manifest))
    (run_dir / "rankinv.jsonl").write_text("".join(record(step) for step in range(1, 221)))
    return run_dir


def start_trainer(run_dir: Path, signals: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.evil.evidence.trainer", str(run_dir), str(signals)],
        env=D.env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(lambda: signals.exists() and "logged" in signals.read_text(), "the trainer to log its records")
    return proc


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_an_armed_daemon_kills_the_genuine_run_and_never_a_forged_or_poisoned_one(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    root, state, signals = tmp_path / "root", tmp_path / "state", tmp_path / "signals.log"
    genuine = start_trainer(root / "genuine", signals)
    victim, victim2 = unrelated(), unrelated()
    procs.extend([genuine, victim, victim2])
    planted_run(root / "forged", copied_manifest(victim.pid, run_token="f" * 32))
    planted_run(root / "poisoned", copied_manifest(victim2.pid, pid_start_ticks="abc"))
    unreadable = planted_run(root / "unreadable", {"kind": "GRPO", "group_size": 4})  # a reader's poison:
    (unreadable / "rankinv.jsonl").write_text(json.dumps({"step": 2**64, "logs": {"entropy": 1.0}}) + "\n")  # > int64
    (tmp_path / "c.toml").write_text(CONFIG)
    daemon = D.start(root, state, "--config", str(tmp_path / "c.toml"), log=tmp_path / "daemon.log")
    try:
        assert genuine.wait(timeout=120) == -signal.SIGTERM, "the genuine run is stopped"
        assert "usr1" in signals.read_text(), "after the graceful signal"

        def settled(store: Store) -> dict[str, str] | None:
            found = {run: store.actions(run) for run in ("forged", "poisoned")}
            refused = {run: a[0].audit for run, a in found.items() if a and a[0].state == "unresolved"}
            return refused if len(refused) == 2 else None

        audits = D.wait_for("both planted runs to be refused", lambda: D.read(root, state, settled))
        assert set(audits) == {"forged", "poisoned"}, audits
        assert "evidence does not match" in audits["forged"] and "neither holds the run's log" in audits["forged"]
        assert "field 'pid_start_ticks' = 'abc' is not a non-negative integer" in audits["poisoned"]
        assert victim.poll() is None and victim2.poll() is None, "no signal reached an unrelated process"
        assert daemon.poll() is None, "the daemon keeps running, whatever became of the unreadable run"
        done = D.wait_for("the kill to be confirmed", lambda: D.read(
            root, state, lambda s: next((a for a in s.actions("genuine") if a.state == "done"), None)))  # fmt: skip
        assert f"KILL pid {genuine.pid}" in done.audit
    finally:
        assert D.stop(daemon) == 0
    lines = (tmp_path / "daemon.log").read_text().splitlines()
    raised = [lines[i - 1] for i, line in enumerate(lines) if line.startswith("Traceback")]
    assert all("run unreadable:" in line for line in raised), raised  # only the reader's poison, kept to its run


def no_slurm(tmp_path: Path) -> Slurm:
    return Slurm(env={"PATH": str(tmp_path / "nothing")})


def refusal(run_dir: Path, tmp_path: Path) -> str:
    target = resolve(run_dir, run_dir.name, no_slurm(tmp_path))
    assert target.kind == "none", target
    return target.how


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"pid_start_ticks": "abc"}, "'pid_start_ticks' = 'abc' is not a non-negative integer"),
        ({"pid": "123"}, "'pid' = '123' is not a non-negative integer"),
        ({"pid": True}, "'pid' = True is not a non-negative integer"),
        ({"pid": 2**70}, "is not a non-negative integer"),
        ({"process_start_time": "soon", "pid_start_ticks": None}, "'process_start_time' = 'soon' is not a finite"),
        ({"host": 7}, "'host' = 7 is not a valid value"),
        ({"slurm_job_id": "12; scancel -u me"}, "is not a valid job id"),
        ({"slurm": ["SLURM_JOB_ID", "1"]}, "field 'slurm' is list, not an object"),
        ({"run_token": {"a": 1}}, "'run_token'"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_with_its_name(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]], change: dict[str, object], why: str
) -> None:
    victim = unrelated()
    procs.append(victim)
    run = planted_run(tmp_path / "run", {**copied_manifest(victim.pid), **change})
    how = refusal(run, tmp_path)
    assert how.startswith("evidence does not match: rankinv-run.json:") and why in how, how


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\xff\xfe", '"a string"'])
def test_a_manifest_that_is_not_a_json_object_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "rankinv-run.json").write_bytes(text.encode("latin-1"))
    assert "evidence does not match" in refusal(tmp_path / "run", tmp_path)


def test_a_copy_of_a_genuine_manifest_in_another_directory_does_not_tie(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    genuine = start_trainer(tmp_path / "genuine", tmp_path / "signals.log")
    procs.append(genuine)
    assert resolve(tmp_path / "genuine", "genuine", no_slurm(tmp_path)).pid == genuine.pid
    copy = planted_run(tmp_path / "copy", json.loads((tmp_path / "genuine" / "rankinv-run.json").read_text()))
    assert "evidence does not match" in refusal(copy, tmp_path)


def test_a_token_in_the_environment_ties_only_its_own_run_directory(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    token = "0123456789abcdef0123456789abcdef"
    env = {"PATH": os.environ["PATH"], "RANKINV_RUN_TOKEN": token, "RANKINV_RUN_DIR": str(tmp_path / "mine")}
    launched = subprocess.Popen(["sleep", "300"], env=env)
    procs.append(launched)
    wait_for(lambda: token.encode() in Path(f"/proc/{launched.pid}/environ").read_bytes(), "exec with the token")
    mine = planted_run(tmp_path / "mine", copied_manifest(launched.pid, run_token=token))
    target = resolve(mine, "mine", no_slurm(tmp_path))
    assert target.kind == "process" and "RANKINV_RUN_TOKEN" in target.how
    other = planted_run(tmp_path / "other", copied_manifest(launched.pid, run_token=token))
    assert "evidence does not match" in refusal(other, tmp_path)
    wrong = planted_run(tmp_path / "wrong", copied_manifest(launched.pid, run_token="x" * 32))
    (wrong / "rankinv-run.json").replace(mine / "rankinv-run.json")
    assert "evidence does not match" in refusal(mine, tmp_path)


def test_a_symlinked_fifo_or_foreign_manifest_is_refused_without_reading_it(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    victim = unrelated()
    procs.append(victim)
    real = planted_run(tmp_path / "real", copied_manifest(victim.pid))
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "rankinv-run.json").symlink_to(real / "rankinv-run.json")
    assert "rankinv-run.json is a symlink" in refusal(linked, tmp_path)
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "rankinv-run.json")
    assert "is not a regular file" in refusal(fifo, tmp_path)  # and no hang: opened non-blocking
    foreign = tmp_path / "foreign"
    shutil.copytree(real, foreign)
    os.chown(foreign / "rankinv-run.json", ensure_user(OTHER_USER), -1)
    assert f"owned by uid {ensure_user(OTHER_USER)}, not uid {os.getuid()}" in refusal(foreign, tmp_path)
    huge = tmp_path / "huge"
    shutil.copytree(real, huge)
    with (huge / "rankinv-run.json").open("a") as f:
        f.truncate(8 << 20)
    assert "bytes (more than" in refusal(huge, tmp_path)
