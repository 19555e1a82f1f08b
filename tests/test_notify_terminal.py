"""Terminal alerts: the encoders (pure), and the bytes through a real tmux server to a real attached client."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rankinv.daemon.notify import terminal as T

ESC = b"\x1b"


# -- the encoders ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["4;3;50", "12;hello", "9;", "0;x"])
def test_osc9_never_starts_with_digits_and_semicolon(body: str) -> None:
    seq = T.osc9(body)
    payload = seq[len("\x1b]9;") : -1]
    assert not payload[:1].isdigit() and payload.endswith(body)


def test_osc9_plain_text_is_kept() -> None:
    assert T.osc9("run grpo-5p8 killed") == "\x1b]9;run grpo-5p8 killed\x07"


def test_control_characters_cannot_end_or_forge_a_sequence() -> None:
    hostile = "a\x1b]0;pwned\x07b\x9c\nc"
    for seq in (T.osc9(hostile), T.osc777(hostile, hostile), T.osc99(hostile, hostile)):
        inner = seq.replace("\x1b\\", "").strip("\x07")
        assert "pwned" in inner and "\x1b]0;" not in inner and "\n" not in inner and "\x9c" not in inner


def test_osc777_title_cannot_add_fields() -> None:
    assert T.osc777("a;b", "c;d") == "\x1b]777;notify;a,b;c;d\x07"


def test_osc99_sends_title_then_body() -> None:
    seq = T.osc99("Title", "Body")
    assert seq == "\x1b]99;i=rankinv:d=0:p=title;Title\x1b\\\x1b]99;i=rankinv:d=1:p=body;Body\x1b\\"


def test_tmux_wrap_doubles_every_escape() -> None:
    wrapped = T.tmux_wrap("\x1b]99;x\x1b\\")
    assert wrapped == "\x1bPtmux;\x1b\x1b]99;x\x1b\x1b\\\x1b\\"


@pytest.mark.parametrize(
    ("env", "protocol"),
    [
        ({"TERM_PROGRAM": "iTerm.app"}, "osc9"),
        ({"LC_TERMINAL": "iTerm2", "TERM": "xterm-256color"}, "osc9"),  # what iTerm2 forwards over SSH
        ({"TERM_PROGRAM": "WezTerm"}, "osc9"),
        ({"WEZTERM_PANE": "3"}, "osc9"),
        ({"TERM": "xterm-ghostty"}, "osc9"),
        ({"KITTY_WINDOW_ID": "1", "TERM": "xterm-256color"}, "osc99"),
        ({"TERM": "xterm-kitty"}, "osc99"),
        ({"VTE_VERSION": "7200"}, "osc777"),
        ({"TERM": "foot"}, "osc777"),
        ({"TERM": "rxvt-unicode-256color"}, "osc777"),
        ({"TERM": "xterm-256color"}, "bell"),
        ({}, "bell"),
    ],
)
def test_protocol_is_chosen_from_the_environment(env: dict[str, str], protocol: str) -> None:
    assert T.detect_protocol(env) == protocol


def test_bell_when_tmux_blocks_passthrough_or_the_terminal_is_unknown() -> None:
    assert T.notification_bytes("t", "b", "osc9", tmux=True, passthrough=False) == b"\x07"
    assert T.notification_bytes("t", "b", "bell") == b"\x07"
    assert T.notification_bytes("t", "b", "osc777", tmux=True).startswith(b"\x1bPtmux;\x1b\x1b]777;notify;t;b")


def test_unknown_protocol_setting_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="terminal_protocol = 'osc8'"):
        T.resolve_protocol("osc8", {})


# -- a real tmux ---------------------------------------------------------------------------------------------


class Tmux:
    """A private tmux server with one session and a real client attached through a pty."""

    def __init__(self, tmp: Path):
        self.socket, self.tmp = f"rankinv-test-{uuid.uuid4().hex[:8]}", tmp
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "100", "-y", "20", "sleep 120")
        self.client_pid, self.fd = self._attach()
        self.output = b""
        self.wait(lambda: self.tmux("list-clients").stdout.strip() != "", "the client to attach")

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=env, timeout=10, check=False
        )

    def _attach(self) -> tuple[int, int]:
        pid, fd = pty.fork()
        if pid == 0:  # the child: a terminal running the tmux client
            os.environ["TERM"] = "xterm-256color"
            os.environ.pop("TMUX", None)
            os.execvp("tmux", ["tmux", "-L", self.socket, "attach", "-t", "t"])
        return pid, fd

    def read(self) -> bytes:
        while select.select([self.fd], [], [], 0.05)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        return self.output

    def wait(self, predicate: object, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            if callable(predicate) and predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; client saw {self.output[-300:]!r}")

    def run_in_pane(self, setting: str) -> Path:
        """Run rankinv's writer as the pane's program; returns the file that records what the pane emitted."""
        pane_log, done = self.tmp / f"pane-{setting}.bin", self.tmp / f"done-{setting}"
        self.tmux("pipe-pane", "-O", "-t", "t", f"cat >> {pane_log}")
        code = (
            "import sys, pathlib; from rankinv.daemon.notify.terminal import write_notification as w; "
            f"w(sys.stdout.buffer, 'rankinv KILL', 'job 1234 stopped', {setting!r}); "
            f"pathlib.Path({str(done)!r}).touch()"
        )
        self.tmux("respawn-pane", "-k", "-t", "t", f'{sys.executable} -c "{code}"; sleep 120')
        self.wait(done.exists, "the pane program to write")
        return pane_log

    def close(self) -> None:
        self.tmux("kill-server")
        os.close(self.fd)
        os.waitpid(self.client_pid, 0)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(tmp_path)
    yield server
    server.close()


@pytest.mark.parametrize(
    ("setting", "outer"),
    [("osc9", b"\x1b]9;rankinv KILL: job 1234 stopped\x07"), ("osc99", b"\x1b]99;i=rankinv:d=1:p=body;job 1234")],
)
def test_passthrough_on_the_notification_reaches_the_outer_terminal(tmux: Tmux, setting: str, outer: bytes) -> None:
    tmux.tmux("set-option", "-g", "allow-passthrough", "on")
    pane_log = tmux.run_in_pane(setting)
    tmux.wait(lambda: outer in tmux.output, "the unwrapped sequence at the client")
    tmux.wait(lambda: pane_log.exists() and pane_log.read_bytes().endswith(b"\x1b\\"), "the pane's bytes")
    assert pane_log.read_bytes().startswith(b"\x1bPtmux;\x1b\x1b]"), "the pane emitted the tmux-wrapped form"


def test_passthrough_off_rings_the_bell_instead(tmux: Tmux) -> None:
    tmux.tmux("set-option", "-g", "allow-passthrough", "off")
    pane_log = tmux.run_in_pane("osc9")
    tmux.wait(lambda: pane_log.exists() and pane_log.read_bytes() == b"\x07", "the bell in the pane")
    tmux.wait(lambda: b"\x07" in tmux.output, "the bell at the client")
    assert b"]9;" not in tmux.output and b"Ptmux" not in tmux.output
