"""Secrets never printed: webhook URLs and tokens stay out of ``notify-test`` output, ``daemon.log`` and errors.

The two cases that leaked: a webhook URL typed without its scheme (urllib's error quotes the whole URL) and a
token with a trailing newline, as ``$(cat token-file)`` gives (http.client's error quotes the header).
"""

from __future__ import annotations

import http.client
import urllib.request
from pathlib import Path

import pytest
from rankinv.daemon.notify.redact import redact

from tests.support import daemon as D
from tests.support.fakelog import make_run
from tests.test_notify_cli import rankinv, server

__all__ = ["server"]  # the local HTTP server fixture
SECRET = "T0SECRET/B0SECRET/xoxbSECRETxyz"
TOKEN = "tokSECRET4711"


def webhook_config(tmp_path: Path, spec: str) -> Path:
    (tmp_path / "rankinv.toml").write_text(f"[notify]\ndesktop = false\nwebhooks = [{{ {spec} }}]\n")
    return tmp_path / "rankinv.toml"


@pytest.mark.parametrize("where", ["inline", "env"])
def test_a_url_without_a_scheme_is_refused_without_printing_it(tmp_path: Path, where: str) -> None:
    url = f"hooks.slack.com/services/{SECRET}"
    spec = f'format = "slack", url = "{url}"' if where == "inline" else 'format = "slack", url_env = "HOOK"'
    webhook_config(tmp_path, spec)
    proc = rankinv("notify-test", str(tmp_path), env={"HOOK": url})
    assert proc.returncode != 0 and "must start with http:// or https://" in proc.stderr, proc.stderr
    assert "SECRET" not in proc.stdout + proc.stderr


def test_a_token_with_a_trailing_newline_is_sent_trimmed_and_never_printed(
    tmp_path: Path, server: tuple[str, list[bytes]]
) -> None:
    url, _ = server
    webhook_config(tmp_path, f'format = "generic", url = "{url}/hook", token_env = "TOK"')
    proc = rankinv("notify-test", str(tmp_path), env={"TOK": TOKEN + "\n"})
    assert proc.returncode == 0 and "ok      webhook:generic(127.0.0.1" in proc.stdout, proc.stdout + proc.stderr
    bad = rankinv("notify-test", str(tmp_path), env={"TOK": "tok\x1bSECRET"})
    assert bad.returncode != 0 and "$TOK holds control characters" in bad.stderr
    assert "SECRET" not in proc.stdout + proc.stderr + bad.stdout + bad.stderr


def test_the_daemon_refuses_a_schemeless_url_without_logging_it(tmp_path: Path) -> None:
    root, base = tmp_path / "root", tmp_path / "state"
    make_run(root / "grpo")
    config = webhook_config(tmp_path, f'format = "discord", url = "discord.com/api/webhooks/{SECRET}"')
    out = D.cli("daemon", str(root), "--foreground", "--state-dir", str(base), "--config", str(config))
    logs = "".join(p.read_text(errors="replace") for p in base.rglob("daemon.*") if p.is_file())
    assert out.returncode != 0 and "must start with http://" in out.stderr + logs
    assert "SECRET" not in out.stdout + out.stderr + logs


def stdlib_error(action: object) -> str:
    try:
        action()  # type: ignore[operator]
    except (ValueError, http.client.HTTPException) as exc:
        return str(exc)
    raise AssertionError("the standard library accepted it")


def test_the_standard_librarys_own_error_texts_are_redacted() -> None:
    conn = http.client.HTTPConnection("127.0.0.1")
    conn.putrequest("POST", "/")  # nothing is sent before endheaders()
    texts = [
        stdlib_error(lambda: urllib.request.Request(f"hooks.slack.com/services/{SECRET}")),
        stdlib_error(lambda: urllib.request.Request(f"ntfy.sh/topic?auth={TOKEN}")),
        stdlib_error(lambda: conn.putheader("Authorization", f"Bearer {TOKEN}\n")),
    ]
    assert all(("SECRET" in t) for t in texts), texts  # they do quote the secret
    cleaned = [redact(t, [TOKEN]) for t in texts]
    assert not any("SECRET" in c for c in cleaned), cleaned
    assert "hooks.slack.com" in cleaned[0], "the host stays, so the message still says where"
    assert redact(f"see https://user:pw@example.com:8443/a/{SECRET}?x=1") == "see https://example.com:8443/[redacted]"


def test_a_webhook_setting_of_the_wrong_type_is_a_clean_error(tmp_path: Path) -> None:
    webhook_config(tmp_path, 'format = "generic", url = 5')
    proc = rankinv("notify-test", str(tmp_path))
    assert proc.returncode == 2 and "url must be a string" in proc.stderr and "Traceback" not in proc.stderr
