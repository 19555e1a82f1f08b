"""TUI in a real terminal: `rankinv watch` inside a private tmux server, driven with send-keys, read with
capture-pane. The tmux server is ours alone (-L unique socket, no user config) and is killed afterwards."""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rankinv.daemon import control

from rankinv.store import Store, store_path_for
from tests.support.tui_seed import make_store

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by scripts/setup --test")


class Tmux:
    def __init__(self) -> None:
        self.socket = f"rankinv-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        argv = ["tmux", "-L", self.socket, "-f", "/dev/null", *args]
        # The server inherits this environment: no outer tmux, no NO_COLOR from the developer's shell.
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "NO_COLOR")}
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=20, env=env).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "tui")

    def wait_until(self, ok: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """The screen once ``ok`` holds for it (a frame caught half drawn is read again, not judged)."""
        deadline = time.monotonic() + timeout
        screen = self.screen()
        while not ok(screen):
            if time.monotonic() > deadline:
                pytest.fail(f"{what} never showed on the terminal; last screen:\n{screen}")
            time.sleep(0.1)
            screen = self.screen()
        return screen

    def wait_for(self, *texts: str, timeout: float = 30.0) -> str:
        """The screen once every text is on it."""
        return self.wait_until(lambda screen: all(t in screen for t in texts), repr(texts), timeout)

    def press_until(self, key: str, text: str, tries: int = 4) -> str:
        """Send ``key`` until ``text`` shows, at most ``tries`` times, 8 s apart: a key sent right after the first
        frame was once not acted on under load (the whole run then waits on it), so it is sent again."""
        for attempt in range(tries):
            self("send-keys", "-t", "tui", key)
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                screen = self.screen()
                if text in screen:
                    return screen
                time.sleep(0.1)
            if attempt == tries - 1:
                pytest.fail(f"{text!r} never showed after {tries} presses of {key!r}; last screen:\n{screen}")
        raise AssertionError("unreachable")


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        subprocess.run(["tmux", "-L", server.socket, "kill-server"], capture_output=True, check=False, timeout=20)


def test_watch_in_tmux_ranks_helps_and_quits(tmux: Tmux, tmp_path: Path) -> None:
    root, state = tmp_path / "runs", tmp_path / "state"
    root.mkdir()
    make_store(store_path_for(root, state))
    watch = [sys.executable, "-m", "rankinv", "watch", str(root), "--no-daemon", "--state-dir", str(state)]
    # The shell prints the exit status and waits, so the pane outlives the app and we can read how it ended.
    command = f"{shlex.join(watch)}; echo EXITED $?; sleep 60"
    tmux("new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", "-e", "TERM=xterm-256color", command)
    # the whole first frame: the last row's verdict cell is drawn after every cell above it
    screen = tmux.wait_for("grpo-bad", "✖ KILL", "⚑ FLAG", "0.77±0.06", "read-only")
    rows = [line for line in screen.splitlines() if line.lstrip().startswith(("grpo-", "sft-a@"))]
    assert [row.split()[0] for row in rows] == [
        "grpo-good", "sft-a@ckpt-100", "sft-a@ckpt-200", "grpo-bad",
    ]
    assert "✖ KILL" in rows[3] and "⚑ FLAG" in rows[2] and "0.77±0.06" in rows[0]
    assert "read-only" in screen
    tmux.press_until("?", "rankinv watch — keys")
    tmux("send-keys", "-t", "tui", "Escape")
    deadline = time.monotonic() + 20
    while "rankinv watch — keys" in tmux.screen():
        assert time.monotonic() < deadline, "help did not close"
        time.sleep(0.1)
    tmux("send-keys", "-t", "tui", "q")
    tmux.wait_for("EXITED 0")


def test_a_new_kill_reaches_the_terminal_through_tmux_passthrough(tmux: Tmux, tmp_path: Path) -> None:
    root, state = tmp_path / "runs", tmp_path / "state"
    root.mkdir()
    store = make_store(store_path_for(root, state))
    raw = tmp_path / "pane.bin"
    # Inside tmux the outer terminal cannot be detected (tmux sets TERM_PROGRAM=tmux): configure it, as a user would.
    (root / "rankinv.toml").write_text('[notify]\nterminal_protocol = "osc9"\n')
    watch = [sys.executable, "-m", "rankinv", "watch", str(root), "--no-daemon", "--state-dir", str(state)]
    tmux(
        "start-server", ";", "set-option", "-g", "allow-passthrough", "on", ";",
        "new-session", "-d", "-s", "tui", "-x", "100", "-y", "30",
        "-e", "TERM=xterm-256color", shlex.join(watch),
    )
    tmux("pipe-pane", "-t", "tui", "-o", f"cat >> {shlex.quote(str(raw))}")  # every byte the app writes
    tmux.wait_for("grpo-bad")
    tmux.press_until("?", "desktop alerts: osc9 through tmux passthrough")  # the app asked tmux; may pass through
    tmux("send-keys", "-t", "tui", "Escape")
    with Store.open(store) as writer:
        writer.put_verdict("grpo-good", None, step=170, decision="KILL", confidence=0.9, stage="2",
                           summary="zero-std 0.95 > 0.90 for 20 steps", reasons=[])
    expected = b"\x1bPtmux;\x1b\x1b]9;rankinv \xe2\x9c\x96 KILL grpo-good: zero-std 0.95 > 0.90 for 20 steps\x07\x1b\\"
    deadline = time.monotonic() + 30
    while expected not in (raw.read_bytes() if raw.exists() else b""):
        assert time.monotonic() < deadline, "the alert never reached the terminal"
        time.sleep(0.1)
    tmux.wait_for("KILL grpo-good")  # and the toast on screen


def test_everyday_keys_in_a_160x45_terminal(tmux: Tmux, tmp_path: Path) -> None:
    """The charts pane and sparklines are on screen; j, /, Esc, enter, l ($PAGER) and y (OSC 52) work in a real
    terminal; quitting from the pager's return leaves a clean exit."""
    root, state = tmp_path / "runs", tmp_path / "state"
    run = root / "grpo-good"
    run.mkdir(parents=True)
    (run / "train.log").write_text("step 1 loss 0.5\n")
    store = make_store(store_path_for(root, state))
    with Store.open(store) as writer:
        assert isinstance(writer, Store)
        writer.upsert_run("grpo-good", str(run))
    paged, raw = tmp_path / "paged.txt", tmp_path / "pane.bin"
    pager = tmp_path / "pager.sh"
    pager.write_text(f'#!/bin/sh\necho "$1" > {shlex.quote(str(paged))}\n')
    pager.chmod(0o755)
    watch = [sys.executable, "-m", "rankinv", "watch", str(root), "--no-daemon", "--state-dir", str(state)]
    command = f"PAGER={shlex.quote(str(pager))} {shlex.join(watch)}; echo EXITED $?; sleep 60"
    tmux("new-session", "-d", "-s", "tui", "-x", "160", "-y", "45", "-e", "TERM=xterm-256color", command)
    tmux("pipe-pane", "-t", "tui", "-o", f"cat >> {shlex.quote(str(raw))}")
    tmux.wait_for("kill <0.20")  # the selected run's entropy chart, its kill line labelled
    # the job, its Slurm state and what the (dry-run) kill did, with the whole frame around it
    screen = tmux.wait_for("4102 R dry-kill", "H/H0 0–1", "reward 0–1", f"root {root}")
    assert any("\u2800" < ch <= "\u28ff" for ch in screen)  # braille line charts drawn
    tmux("send-keys", "-t", "tui", "/", "b", "a", "d")  # typed fast: no key may be lost while the box opens
    tmux.wait_for("1/4 rows")  # the header's count may be drawn before the table below it:
    tmux.wait_until(lambda sc: "grpo-good " not in sc.split("events")[0].split("run ")[-1], "grpo-good filtered out")
    tmux("send-keys", "-t", "tui", "Escape")
    tmux.wait_for("│ 4 rows │")  # (not "1/4 rows")
    tmux("send-keys", "-t", "tui", "g", "y")  # the cursor stayed on grpo-bad through the filter: g to the top
    expected = b"\x1b]52;c;" + base64.b64encode(str(run).encode())
    deadline = time.monotonic() + 20
    while expected not in (raw.read_bytes() if raw.exists() else b""):
        assert time.monotonic() < deadline, f"no OSC 52 copy reached the terminal:\n{tmux.screen()}"
        time.sleep(0.1)
    lines = tmux.wait_for("copied").splitlines()  # (a long path wraps onto the next line of the toast)
    toast = next(i for i, line in enumerate(lines) if "copied" in line)
    feed = next(i for i, line in enumerate(lines) if "events (newest first)" in line)
    assert toast < feed  # the toast sits top right, never over the feed
    tmux("send-keys", "-t", "tui", "l")
    deadline = time.monotonic() + 20
    while not paged.exists():
        assert time.monotonic() < deadline, "the pager never ran"
        time.sleep(0.1)
    assert paged.read_text().strip() == str(run / "train.log")
    tmux.wait_for("kill <0.20")  # back from the pager, the app redraws
    tmux("send-keys", "-t", "tui", "j", "Enter")  # j moves down: the detail of the second row
    tmux.wait_for("sft-a@ckpt-100  [ckpt]")
    tmux("send-keys", "-t", "tui", "Escape")  # alone: ESC then q at once reads as alt+q, in any terminal
    tmux.wait_for("│ 4 rows │")
    tmux("send-keys", "-t", "tui", "q")
    tmux.wait_for("EXITED 0")


def test_the_default_pager_opens_the_log_at_its_end_and_sends_none_of_its_escapes(tmux: Tmux, tmp_path: Path) -> None:
    """No ``$PAGER``: real ``less`` shows a long log's last lines, and a hostile line's escape sequences as text,
    even with ``LESS=-R`` (which would pass them to the terminal) in the user's environment."""
    root, state = tmp_path / "runs", tmp_path / "state"
    run = root / "grpo-good"
    run.mkdir(parents=True)
    hostile = "\x1b]0;PWNED-TITLE\x07\x1b[31mred\x1b[0m"
    (run / "train.log").write_text("".join(f"step {i} loss 0.5\n" for i in range(1, 301)) + hostile + "\nlast line\n")
    with Store.open(make_store(store_path_for(root, state))) as writer:
        assert isinstance(writer, Store)
        writer.upsert_run("grpo-good", str(run))
    raw = tmp_path / "pane.bin"
    watch = [sys.executable, "-m", "rankinv", "watch", str(root), "--no-daemon", "--state-dir", str(state)]
    command = f"unset PAGER; LESS=-R {shlex.join(watch)}; echo EXITED $?; sleep 60"
    tmux("new-session", "-d", "-s", "tui", "-x", "120", "-y", "30", "-e", "TERM=xterm-256color", command)
    tmux.wait_for("│ 4 rows │")
    tmux("pipe-pane", "-t", "tui", "-o", f"cat >> {shlex.quote(str(raw))}")
    tmux("send-keys", "-t", "tui", "g", "l")
    screen = tmux.wait_for("last line", "step 300 loss")
    assert "step 1 loss" not in screen  # opened at the end, not the top
    assert "ESC]0;PWNED-TITLE^G" in screen and "ESC[31mred" in screen  # shown as text
    tmux("send-keys", "-t", "tui", "q")  # leaves less; the app redraws
    tmux.wait_for("│ 4 rows │")
    assert b"PWNED-TITLE" in raw.read_bytes() and b"\x1b]0;PWNED" not in raw.read_bytes()
    tmux("send-keys", "-t", "tui", "q")
    tmux.wait_for("EXITED 0")


def _running(pid: int) -> bool:
    """Alive and not a zombie (a process that exited but was not yet reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_closing_the_terminal_ends_the_demo_its_daemon_and_its_folder(tmux: Tmux, tmp_path: Path) -> None:
    """Killing the tmux session (as a dropped SSH link would) hangs up on `rankinv demo`: the dry-run daemon it
    started in the background and its temporary folder must not outlive it."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    demo = [sys.executable, "-m", "rankinv", "demo", "--seconds-per-run", "60"]
    env = ["-e", "TERM=xterm-256color", "-e", f"TMPDIR={tmpdir}", "-e", "HF_HUB_OFFLINE=1"]
    tmux("new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", *env, shlex.join(demo))
    tmux.wait_for("rankinv watch", "daemon (pid", timeout=60)
    (workdir,) = tmpdir.glob("rankinv-demo-*")
    pid = control.status(workdir / "runs", workdir / "state").pid
    assert pid is not None and _running(pid), "the demo's daemon runs while the demo is shown"
    tmux("kill-session", "-t", "tui")
    deadline = time.monotonic() + 60
    try:
        while _running(pid) or workdir.exists():
            assert time.monotonic() < deadline, f"after the hang-up: daemon running={_running(pid)}, {workdir} kept"
            time.sleep(0.2)
    finally:
        if _running(pid):  # the failure is reported; the daemon is not left behind by the test
            os.kill(pid, 15)
