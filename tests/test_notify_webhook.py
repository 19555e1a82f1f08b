"""Webhooks against a real HTTP server on 127.0.0.1: formats, secrets, retries, a server that fails then recovers."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rankinv.daemon.notify.event import Event, NotifyError
from rankinv.daemon.notify.webhook import WebhookChannel

SECRET = "s3cr3t-T0KEN-xyz"
EVENT = Event(
    "kill",
    "rankinv: grpo-5p8 done",
    "KILL job 1234 (USR1, grace 120 s, scancel ok)",
    run="grpo-5p8",
    severity="critical",
)


@dataclass
class Hook:
    """What the server saw, and how it should answer the next requests."""

    statuses: list[int] = field(default_factory=list)  # answered in order; 200 once exhausted
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _handler(hook: Hook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = hook.statuses.pop(0) if hook.statuses else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-server")
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def channel(spec: dict[str, str], env: dict[str, str] | None = None, retries: int = 3) -> WebhookChannel:
    return WebhookChannel(spec, env or {}, timeout=5.0, retries=retries, backoff=0.05)


def test_generic_json_carries_the_whole_event(hook: Hook) -> None:
    assert channel({"format": "generic", "url": hook.url + "/hook"}).send(EVENT) == "HTTP 200"
    (req,) = hook.requests
    data = json.loads(req["body"])
    assert req["path"] == "/hook" and req["headers"]["Content-Type"] == "application/json"
    assert data["kind"] == "kill" and data["run"] == "grpo-5p8" and data["body"] == EVENT.body
    assert data["source"] == "rankinv"


def test_slack_and_discord_formats(hook: Hook) -> None:
    channel({"format": "slack", "url": hook.url}).send(EVENT)
    channel({"format": "discord", "url": hook.url}).send(EVENT)
    slack, discord = (json.loads(r["body"]) for r in hook.requests)
    assert slack == {"text": f"{EVENT.title}: {EVENT.body}"}
    assert discord == {"content": f"{EVENT.title}: {EVENT.body}"}


def test_ntfy_puts_the_title_and_priority_in_headers(hook: Hook) -> None:
    channel({"format": "ntfy", "url": hook.url + "/mytopic"}).send(EVENT)
    (req,) = hook.requests
    assert req["path"] == "/mytopic" and req["body"] == EVENT.body.encode()
    assert req["headers"]["Title"] == EVENT.title and req["headers"]["Priority"] == "urgent"
    assert "kill" in req["headers"]["Tags"]


def test_a_server_that_fails_then_recovers_gets_the_alert(hook: Hook) -> None:
    hook.statuses = [503, 502]
    assert channel({"url": hook.url}).send(EVENT) == "HTTP 200"
    assert len(hook.requests) == 3
    assert all(json.loads(r["body"])["title"] == EVENT.title for r in hook.requests)


def test_retries_are_bounded_and_reported(hook: Hook) -> None:
    hook.statuses = [500] * 10
    with pytest.raises(NotifyError, match=r"HTTP 500 from 127\.0\.0\.1:\d+ \(attempt 3 of 3\)"):
        channel({"url": hook.url}).send(EVENT)
    assert len(hook.requests) == 3


def test_a_client_error_is_not_retried(hook: Hook) -> None:
    hook.statuses = [404]
    with pytest.raises(NotifyError, match="HTTP 404"):
        channel({"url": hook.url}).send(EVENT)
    assert len(hook.requests) == 1


def test_secrets_come_from_the_environment_and_are_never_logged(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    env = {"HOOK_URL": f"{hook.url}/services/{SECRET}", "HOOK_TOKEN": SECRET}
    ch = channel({"format": "slack", "url_env": "HOOK_URL", "token_env": "HOOK_TOKEN"}, env)
    assert SECRET not in ch.name and "$HOOK_URL" in ch.name
    ch.send(EVENT)
    assert hook.requests[0]["path"] == f"/services/{SECRET}"
    assert hook.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    hook.statuses = [500] * 3
    with caplog.at_level(logging.DEBUG), pytest.raises(NotifyError) as err:
        ch.send(EVENT)
    assert SECRET not in str(err.value) and SECRET not in caplog.text


def test_an_unreachable_server_is_a_clear_error_without_the_secret() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    ch = channel({"url": f"http://user:{SECRET}@127.0.0.1:{port}/x?token={SECRET}"}, retries=2)
    with pytest.raises(NotifyError, match=rf"cannot reach 127\.0\.0\.1:{port}") as err:
        ch.send(EVENT)
    assert SECRET not in str(err.value) and SECRET not in ch.name


def test_misconfiguration_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"\$MISSING_URL is unset"):
        channel({"format": "slack", "url_env": "MISSING_URL"})
    with pytest.raises(ValueError, match="format 'teams'"):
        channel({"format": "teams", "url": "http://x"})
    with pytest.raises(ValueError, match="unknown key"):
        channel({"url": "http://x", "secret": "y"})
