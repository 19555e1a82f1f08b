"""Webhooks: generic JSON, ntfy, Slack and Discord, over urllib with a timeout and retries.

Secrets stay in the environment: ``url_env`` names the variable holding a secret URL (Slack and Discord
webhook URLs are credentials), ``token_env`` one holding a bearer token. Neither value is ever put in a log
line or an error message; a webhook is described by its format, host and variable names only.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from rankinv.daemon.notify.event import Event, NotifyError

FORMATS = ("generic", "ntfy", "slack", "discord")
KEYS = ("format", "url", "url_env", "token_env", "name")
NTFY_PRIORITY = {"info": "default", "warning": "high", "critical": "urgent"}


@dataclass(frozen=True)
class Request:
    """An HTTP POST ready to send."""

    url: str
    body: bytes
    headers: dict[str, str]


def _json(payload: object) -> tuple[bytes, dict[str, str]]:
    return json.dumps(payload).encode(), {"Content-Type": "application/json"}


def build_request(fmt: str, url: str, event: Event, token: str | None = None) -> Request:
    """The request body and headers for ``fmt``; pure."""
    text = event.one_line()
    if fmt == "generic":
        body, headers = _json(event.to_dict())
    elif fmt == "slack":
        body, headers = _json({"text": text})
    elif fmt == "discord":
        body, headers = _json({"content": text[:2000]})
    elif fmt == "ntfy":
        body = event.body.encode()
        headers = {"Title": event.title.encode("ascii", "replace").decode(), "Tags": f"rankinv,{event.kind}"}
        headers["Priority"] = NTFY_PRIORITY.get(event.severity, "default")
    else:
        raise ValueError(f"unknown webhook format {fmt!r}; use one of {', '.join(FORMATS)}")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Request(url, body, headers)


def post(request: Request, timeout: float) -> int:
    """POST once; the HTTP status, or NotifyError naming only the host."""
    host = host_of(request.url)
    try:
        req = urllib.request.Request(request.url, data=request.body, headers=request.headers, method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        raise NotifyError(f"HTTP {exc.code} from {host}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotifyError(f"cannot reach {host}: {type(reason).__name__}") from None
    except (ValueError, http.client.HTTPException) as exc:  # their texts quote the URL or header: never shown
        raise NotifyError(f"cannot send to {host}: {type(exc).__name__}") from None


def _retryable(error: NotifyError) -> bool:
    text = str(error)
    return not text.startswith("HTTP 4") or text.startswith(("HTTP 408", "HTTP 429"))


def with_retries(
    action: Callable[[], int], attempts: int, backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Run ``action`` up to ``attempts`` times, doubling the pause; client errors (4xx) are not retried."""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return action()
        except NotifyError as exc:
            if attempt >= attempts or not _retryable(exc):
                raise NotifyError(f"{exc} (attempt {attempt} of {attempts})") from None
            sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


class WebhookChannel:
    """One configured webhook (a table in ``[notify] webhooks``)."""

    def __init__(
        self,
        spec: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
    ):
        env = os.environ if env is None else env
        unknown = set(spec) - set(KEYS)
        if unknown:
            raise ValueError(f"[notify] webhooks: unknown key(s) {sorted(unknown)}; known: {', '.join(KEYS)}")
        mistyped = sorted(k for k, v in spec.items() if not isinstance(v, str))
        if mistyped:
            raise ValueError(f"[notify] webhooks: {', '.join(mistyped)} must be a string")
        self.format = spec.get("format", "generic")
        if self.format not in FORMATS:
            raise ValueError(f"[notify] webhooks: format {self.format!r}; use one of {', '.join(FORMATS)}")
        self.url = _url(spec, env)
        self.token = _token(spec, env)
        self.name = spec.get("name") or describe(spec, self.url)
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"[notify] webhooks: the url of {self.name} must start with http:// or https:// "
                             "and name a host (the value is not shown: it may be a secret)")  # fmt: skip
        self.secrets = tuple(s for s in (self.url, self.token, parts.path, parts.query, parts.netloc) if s)
        self.timeout, self.retries, self.backoff = timeout, retries, backoff

    def send(self, event: Event) -> str:
        request = build_request(self.format, self.url, event, self.token)
        status = with_retries(lambda: post(request, self.timeout), self.retries, self.backoff)
        return f"HTTP {status}"


def _token(spec: Mapping[str, str], env: Mapping[str, str]) -> str | None:
    """The bearer token, surrounding whitespace removed (a file read into a variable ends in a newline)."""
    if not spec.get("token_env"):
        return None
    token = (env.get(spec["token_env"]) or "").strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in token):
        raise ValueError(f"[notify] webhooks: ${spec['token_env']} holds control characters (value not shown)")
    return token or None


def _url(spec: Mapping[str, str], env: Mapping[str, str]) -> str:
    if spec.get("url_env"):
        value = env.get(spec["url_env"], "")
        if not value:
            raise ValueError(f"[notify] webhooks: environment variable ${spec['url_env']} is unset or empty")
        return value.strip()
    if not spec.get("url"):
        raise ValueError("[notify] webhooks: each webhook needs url or url_env")
    return spec["url"].strip()


def describe(spec: Mapping[str, str], url: str) -> str:
    """A log-safe name: format and host, or the variable name when the URL itself is a secret."""
    fmt = spec.get("format", "generic")
    if spec.get("url_env"):
        return f"webhook:{fmt}(${spec['url_env']})"
    return f"webhook:{fmt}({host_of(url)})"


def host_of(url: str) -> str:
    """Host and port only: user:password@, path and query may hold secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host
