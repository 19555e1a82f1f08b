"""Starting, finding and stopping the daemon: the lock (one per root and host), the detached start the TUI
uses (``rankinv.daemon.control``), broken configs refused before detaching, and ``rankinv init``/``status``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from rankinv.daemon import control
from rankinv.daemon.lock import LOCK_NAME

from rankinv.config import CONFIG_FILENAME, load_config
from rankinv.errors import RankinvError
from rankinv.store import state_dir_for
from tests.support import daemon as D
from tests.support.fakelog import append, make_run, record


def _alive(root: Path, state: Path, pid: int) -> bool:
    return D.read(root, state, lambda s: s.health().alive and s.health().get("pid") == str(pid))


def test_second_daemon_names_the_first_and_exits_zero(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    root.mkdir()
    first = D.start(root, state)
    try:
        D.wait_for("first daemon up", lambda: _alive(root, state, first.pid))
        for extra in ((), ("--foreground",)):
            second = D.cli("daemon", str(root), "--state-dir", str(state), *extra)
            assert second.returncode == 0, second.stderr
            assert f"already running (pid {first.pid})" in second.stdout
        st = control.status(root, state)
        assert (st.running, st.pid, st.alive) == (True, first.pid, True)
        assert st.health["watch_mode"] in ("inotify", "polling")
        assert control.stop(root, state) == first.pid
        assert first.wait(timeout=30) == 0
        assert not control.status(root, state).running
    finally:
        D.stop(first)


def test_detached_start_status_stop_through_the_control_api(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    run = make_run(root / "grpo")
    append(run, "".join(record(s) for s in range(1, 6)))
    pid = control.start_detached(root, state_base=state)
    try:
        assert os.getsid(pid) != os.getsid(0)  # its own session: survives the terminal that started it
        assert control.start_detached(root, state_base=state) == pid  # finds the running one
        D.wait_for("metrics via the detached daemon", lambda: D.read(root, state, lambda s: s.metric_count("grpo")))
        st = control.status(root, state)
        assert st.running and st.pid == pid and st.log_path.exists()
        assert (st.state_dir / "daemon.pid").read_text().strip() == str(pid)
        shown = D.cli("daemon", "status", str(root), "--state-dir", str(state))
        assert shown.returncode == 0 and f"pid {pid}" in shown.stdout and "watch_mode" in shown.stdout
    finally:
        assert control.stop(root, state) == pid
    assert not (state_dir_for(root, state) / "daemon.pid").exists()
    gone = D.cli("daemon", "status", str(root), "--state-dir", str(state))
    assert gone.returncode == 1 and "no rankinv daemon is running" in gone.stdout


def test_detached_start_from_a_folder_holding_a_rankinv_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rankinv watch runs` typed in $HOME beside a clone of this repository: the clone's rankinv/ folder (a
    namespace package to Python, shadowing the installed one under ``python -m``) must not break the start."""
    home = tmp_path / "home"
    (home / "rankinv" / "tests").mkdir(parents=True)  # what a checkout looks like from outside: no __init__.py
    run = make_run(home / "runs" / "grpo")
    append(run, "".join(record(s) for s in range(1, 6)))
    monkeypatch.chdir(home)
    shadowed = subprocess.run([sys.executable, "-c", "import rankinv; print(rankinv.__file__)"],
                              capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert shadowed.stdout.strip() == "None", "the clone shadows the package from this folder"
    pid = control.start_detached(Path("runs"), state_base=Path("state"))  # relative, as typed
    try:
        D.wait_for("metrics via the detached daemon",
                   lambda: D.read(home / "runs", home / "state", lambda s: s.metric_count("grpo")))  # fmt: skip
    finally:
        assert control.stop(home / "runs", home / "state") == pid


def test_a_failed_detached_start_says_what_failed_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / CONFIG_FILENAME).write_text('[daemon]\npoll_interval = "fast"\n')
    with pytest.raises(RankinvError) as caught:
        control.start_detached(root, state_base=tmp_path / "state")
    message = str(caught.value)
    assert "poll_interval" in message and "Traceback" not in message and "\n" not in message.strip()


def test_broken_config_fails_before_detaching_with_file_line_and_key(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    root.mkdir()
    bad = tmp_path / "bad.toml"
    bad.write_text('[daemon]\nheartbeat_seconds = 5.0\npoll_interval = "fast"\n')
    done = D.cli("daemon", str(root), "--config", str(bad), "--state-dir", str(state))
    assert done.returncode == 2
    assert f"{bad}:3" in done.stderr and "poll_interval" in done.stderr and "Traceback" not in done.stderr
    assert not (state_dir_for(root, state) / LOCK_NAME).exists()  # never started
    bad.write_text('[daemon]\ntriage_executor = "magic"\n')
    done = D.cli("daemon", str(root), "--config", str(bad), "--state-dir", str(state), "--foreground")
    assert done.returncode == 2 and "triage_executor" in done.stderr and "local" in done.stderr
    missing = D.cli("daemon", str(tmp_path / "nope"), "--state-dir", str(state))
    assert missing.returncode == 2 and "not a directory" in missing.stderr


def test_init_writes_every_setting_and_refuses_to_overwrite(tmp_path: Path) -> None:
    done = D.cli("init", str(tmp_path))
    assert done.returncode == 0
    written = tmp_path / CONFIG_FILENAME
    assert load_config(written).daemon.poll_interval == 2.0  # the template parses to the defaults
    assert "settle_seconds" in written.read_text() and "[daemon]" in written.read_text()
    written.write_text("# mine\n")
    again = D.cli("init", str(tmp_path))
    assert again.returncode == 2 and "--force" in again.stderr and written.read_text() == "# mine\n"
    assert D.cli("init", str(tmp_path), "--force").returncode == 0 and "[daemon]" in written.read_text()


def test_status_without_a_daemon_scans_once_and_answers(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    run = make_run(root / "grpo")
    append(run, "".join(record(s) for s in range(1, 200)))
    done = D.cli("status", str(root), "--json", "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["daemon_running"] is False and data["one_shot_scan"] is True
    (grpo,) = data["candidates"]
    assert grpo["run"] == "grpo" and grpo["verdict"] == "KILL" and grpo["predicted"] is not None
    assert D.read(root, state, lambda s: s.actions()) == ()  # a one-shot scan never acts
    table = D.cli("status", str(root), "--state-dir", str(state))
    assert table.returncode == 0 and "grpo" in table.stdout and "KILL" in table.stdout


def test_commands_from_the_tui_are_consumed_and_answered(tmp_path: Path) -> None:
    from rankinv.messages import Command, CommandKind
    from rankinv.store import CommandChannel, store_path_for

    root, state = tmp_path / "root", tmp_path / "state"
    run = make_run(root / "grpo")
    append(run, "".join(record(s) for s in range(1, 40)))
    proc = D.start(root, state)
    try:
        D.wait_for("a first verdict", lambda: D.read(root, state, lambda s: s.latest_verdict("grpo")))
        k = CommandKind
        queued = [Command(k.PIN, "grpo"), Command(k.ACK, "grpo"), Command(k.ARM), Command(k.DISARM),
                  Command(k.RETRIAGE, "grpo"), Command(k.KILL, "grpo"), Command(k.PIN, "nope")]
        path = store_path_for(root, state)
        raw = sqlite3.connect(path)  # what an older or broken writer might leave: a kind nobody knows
        with raw:
            bogus_id = raw.execute("INSERT INTO commands(kind, run, created_at) VALUES('bogus', 'grpo', 0)").lastrowid
        raw.close()
        with CommandChannel.open(path) as channel:  # what the TUI does
            ids = [bogus_id or 0] + [channel.send(command, source="tui") for command in queued]

            def results() -> list[str] | None:
                answers = [channel.result(i) for i in ids]
                return None if None in answers else [a or "" for a in answers]

            got = D.wait_for("every command answered", results, timeout=30)
        bogus, pin, ack, arm, disarm, retriage, kill, nope = got
        assert pin.startswith("ok: pinned") and ack.startswith("ok: acknowledged verdict")
        assert arm.startswith("ok: armed") and disarm.startswith("ok: disarmed")
        assert retriage.startswith("error: no complete checkpoint")
        assert kill.startswith("ok: kill requested") and "armed=false" in kill
        assert bogus.startswith("error: unknown command")
        assert nope == "error: no run named 'nope' in the store"
        grpo = D.read(root, state, lambda s: s.run("grpo"))
        assert grpo is not None and grpo.pinned == "continue" and grpo.acknowledged_verdict is not None
        assert D.read(root, state, lambda s: s.health().get("armed")) == "false"
        manual = D.read(root, state, lambda s: [v for v in s.verdicts("grpo") if v.stage == "manual"])
        assert [v.decision for v in manual] == ["KILL"]
        assert [r.render() for r in manual[0].reasons] == ["user request: kill requested from tui"]
        kills = D.wait_for("the manual kill in the ledger", lambda: D.read(
            root, state, lambda s: [a for a in s.actions("grpo") if a.verdict_id == manual[0].id]))
        assert len(kills) == 1 and kills[0].kind == "kill" and kills[0].dry_run  # disarmed: recorded, not done
    finally:
        assert D.stop(proc) == 0


def test_relative_config_and_state_paths_are_made_absolute_before_the_daemon_leaves_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The detached daemon works from "/" and passes its config's path to triage jobs: a relative path typed by
    the user must already be absolute by then (the oracle: the folder the test typed it in)."""
    from rankinv.daemon.serve import plan

    (tmp_path / "runs").mkdir()
    (tmp_path / "mine.toml").write_text("[daemon]\nheartbeat_seconds = 5.0\n")
    monkeypatch.chdir(tmp_path)
    made = plan("runs", "mine.toml", state_base="state")
    assert made.config_path == tmp_path / "mine.toml"
    assert made.config.daemon.state_dir == str(tmp_path / "state")
    assert made.state_dir.is_relative_to(tmp_path / "state")
