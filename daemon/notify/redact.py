"""Secrets out of error texts: what a channel's exception says is logged and printed, so it is scrubbed first.

Webhook URLs (Slack, Discord) are credentials in their path, ntfy topics and API keys sit in query strings,
and a bearer token can come back quoted inside an ``Invalid header value`` error. :func:`redact` removes the
channel's own secrets wherever they appear, then anything that looks like a URL path, query string or bearer
token, keeping only the host so the message still says where it failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

HIDDEN = "[redacted]"
_URL = re.compile(
    r"""(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)?     # http:// (or none: a URL typed without its scheme)
        (?:[^\s/@'"]+@)?                            # user:password@
        (?P<host>[\w.-]+\.[a-zA-Z]{2,}|\d{1,3}(?:\.\d{1,3}){3}|localhost)
        (?P<port>:\d+)?
        [/?#][^\s'"]*                               # path, query, fragment: where the secrets are""",
    re.VERBOSE,
)
_BEARER = re.compile(r"(?i)\b(bearer|token|basic)(\s+|=)[^\s'\",;]+")
_QUERY = re.compile(r"\?[^\s'\"]+")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret, URL path, query string and bearer token replaced by ``[redacted]``."""
    for secret in sorted({s.strip() for s in secrets if s and len(s.strip()) >= 4}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    text = _URL.sub(lambda m: f"{m['scheme'] or ''}{m['host']}{m['port'] or ''}/{HIDDEN}", text)
    text = _BEARER.sub(lambda m: f"{m[1]}{m[2]}{HIDDEN}", text)
    return _QUERY.sub(f"?{HIDDEN}", text)
