"""The dispatcher (de-duplication, rate limits, isolation), the command hook and the desktop channel."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from rankinv.daemon.notify.command import CommandChannel
from rankinv.daemon.notify.desktop import DesktopChannel
from rankinv.daemon.notify.dispatch import Dispatcher, build_channels
from rankinv.daemon.notify.event import Event, NotifyError

from rankinv.config import NotifyConfig

EVENT = Event("dry_run", "rankinv: grpo-a dry-run", "DRY-RUN would KILL job 7", run="grpo-a")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def recorder(tmp_path: Path, name: str = "hook") -> tuple[CommandChannel, Path]:
    """A real command hook: a script that appends its stdin to a file."""
    out = tmp_path / f"{name}.jsonl"
    script = tmp_path / f"{name}.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'a').write(sys.stdin.read() + '\\n')\n")
    return CommandChannel(f"{sys.executable} {script}", timeout=10), out


def test_the_feed_line_does_not_repeat_the_run_the_feed_shows_beside_it() -> None:
    assert EVENT.one_line() == "rankinv: grpo-a dry-run: DRY-RUN would KILL job 7"  # the desktop title keeps it
    assert EVENT.feed_line() == "dry-run: DRY-RUN would KILL job 7"
    other = Event("error", "rankinv: daemon", "store locked")  # no run: nothing to drop
    assert other.feed_line() == "rankinv: daemon: store locked"


def test_the_command_hook_gets_the_event_as_json_on_stdin(tmp_path: Path) -> None:
    hook, out = recorder(tmp_path)
    assert hook.send(EVENT).endswith("ok")
    data = json.loads(out.read_text())
    assert data["kind"] == "dry_run" and data["run"] == "grpo-a" and data["body"] == EVENT.body


def test_a_failing_slow_or_missing_hook_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(NotifyError, match="exited 3: nope"):
        CommandChannel("sh -c 'echo nope >&2; exit 3'").send(EVENT)
    with pytest.raises(NotifyError, match=r"killed after 0\.3 s"):
        CommandChannel("sleep 5", timeout=0.3).send(EVENT)
    with pytest.raises(NotifyError, match="not found: /no/such/hook"):
        CommandChannel("/no/such/hook").send(EVENT)


def test_duplicates_are_dropped_inside_the_window(tmp_path: Path) -> None:
    hook, out = recorder(tmp_path)
    clock = Clock()
    d = Dispatcher([hook], dedup_seconds=600, clock=clock)
    assert [r.ok for r in d.send(EVENT)] == [True]
    clock.now += 599
    assert d.send(EVENT) == []
    clock.now += 2
    assert [r.ok for r in d.send(EVENT)] == [True]
    assert len(out.read_text().splitlines()) == 2


def test_each_channel_is_rate_limited(tmp_path: Path) -> None:
    hook, out = recorder(tmp_path)
    clock = Clock()
    d = Dispatcher([hook], dedup_seconds=0, max_per_hour=2, clock=clock)
    results = [d.send(Event("x", f"t{i}", "b"))[0] for i in range(3)]
    assert [r.ok for r in results] == [True, True, False] and "rate limited" in results[2].detail
    clock.now += 3600
    assert d.send(Event("x", "t9", "b"))[0].ok
    assert len(out.read_text().splitlines()) == 3


def test_a_failing_channel_does_not_stop_the_others(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = CommandChannel("sh -c 'exit 1'")
    broken.name = "broken"
    hook, out = recorder(tmp_path)
    results = Dispatcher([broken, hook]).send(EVENT)
    assert [(r.channel, r.ok) for r in results] == [("broken", False), ("command", True)]
    assert out.exists() and "alert via broken failed" in caplog.text


def test_desktop_needs_a_session(tmp_path: Path) -> None:
    results = Dispatcher([DesktopChannel({"PATH": "/usr/bin"})]).send(EVENT)
    assert results[0].skipped and "no desktop session" in results[0].detail


def test_desktop_runs_notify_send_with_urgency(tmp_path: Path) -> None:
    # A stand-in notify-send (no desktop session or notification daemon exists on the test machines): it records argv.
    argv_file = tmp_path / "argv.json"
    stand_in = tmp_path / "notify-send"
    stand_in.write_text(
        f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(argv_file)!r}, 'w'))\n"
    )
    stand_in.chmod(0o755)
    env = {"PATH": str(tmp_path), "DISPLAY": ":0", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/tmp/bus"}
    critical = Event("done", "rankinv: grpo-a done", "KILL job 7 (USR1, grace 120 s, scancel ok)", severity="critical")
    assert DesktopChannel(env).send(critical) == "sent"
    assert json.loads(argv_file.read_text()) == [
        "--app-name=rankinv",
        "--urgency=critical",
        "--",
        critical.title,
        critical.body,
    ]


def test_channels_come_from_the_config(tmp_path: Path) -> None:
    config = NotifyConfig(webhooks=({"format": "ntfy", "url": "http://127.0.0.1:9/t"},), command="true", desktop=False)
    names = [c.name for c in build_channels(config, env={}, terminal=io.BytesIO())]
    assert names == ["terminal", "webhook:ntfy(127.0.0.1:9)", "command"]
    assert [c.name for c in build_channels(NotifyConfig(desktop=False), env={})] == []  # no tty here: no terminal
    with pytest.raises(ValueError, match="terminal_protocol"):
        build_channels(NotifyConfig(terminal_protocol="osc8"), env={})


def test_a_terminal_channel_without_a_terminal_is_skipped() -> None:
    config = NotifyConfig(desktop=False)
    (result,) = Dispatcher(build_channels(config, env={}, terminal=io.BytesIO())).send(EVENT)
    assert result.skipped and not result.ok
