"""`rankinv notify-test`, `rankinv arm` and `rankinv disarm` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rankinv.daemon.actions.arming import arm_file, read_armed

from rankinv.config import ActionsConfig


@pytest.fixture
def server() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="notify-cli-server")
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", bodies
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def rankinv(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "TMUX")}
    return subprocess.run(
        [sys.executable, "-m", "rankinv", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_notify_test_sends_through_every_channel(tmp_path: Path, server: tuple[str, list[bytes]]) -> None:
    url, bodies = server
    hook_out = tmp_path / "hook.json"
    hook = tmp_path / "hook.py"
    hook.write_text(f"import sys\nopen({str(hook_out)!r}, 'w').write(sys.stdin.read())\n")
    (tmp_path / "rankinv.toml").write_text(
        f'[notify]\nwebhooks = [{{ format = "generic", url = "{url}/hook" }}]\ncommand = "{sys.executable} {hook}"\n'
    )
    proc = rankinv("notify-test", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok      webhook:generic(127.0.0.1" in proc.stdout and "ok      command" in proc.stdout
    assert "skipped terminal" in proc.stdout and "skipped desktop" in proc.stdout
    assert json.loads(bodies[0])["kind"] == "test" and json.loads(hook_out.read_text())["kind"] == "test"


def test_notify_test_reports_a_failing_channel(tmp_path: Path) -> None:
    (tmp_path / "rankinv.toml").write_text("[notify]\ndesktop = false\ncommand = \"sh -c 'exit 4'\"\n")
    proc = rankinv("notify-test", str(tmp_path))
    assert proc.returncode == 1 and "FAILED  command: command hook sh exited 4" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_notify_test_with_a_bad_config_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "rankinv.toml").write_text('[notify]\nwebhooks = [{ format = "teams", url = "http://x" }]\n')
    proc = rankinv("notify-test", str(tmp_path))
    assert proc.returncode == 2 and "format 'teams'" in proc.stderr and "Traceback" not in proc.stderr


def test_arm_and_disarm_override_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    root = tmp_path / "runs"
    root.mkdir()
    refused = rankinv("arm", str(root), env=env)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert rankinv("arm", str(root), "--yes", env=env).returncode == 0
    monkeypatch.setenv("XDG_STATE_HOME", env["XDG_STATE_HOME"])
    assert arm_file(root).exists()
    state = read_armed(root, ActionsConfig(armed=False))
    assert state.armed and "rankinv arm" in state.source
    assert rankinv("disarm", str(root), env=env).returncode == 0
    assert not read_armed(root, ActionsConfig(armed=True)).armed
    arm_file(root).write_text("{not json")
    broken = read_armed(root, ActionsConfig(armed=True))
    assert not broken.armed and "unreadable: treated as disarmed" in broken.source


def test_arm_needs_a_real_root(tmp_path: Path) -> None:
    proc = rankinv("arm", str(tmp_path / "missing"), "--yes")
    assert proc.returncode == 2 and "not a directory" in proc.stderr
