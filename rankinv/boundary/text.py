"""Show untrusted text (run names, metric names, paths, messages quoting them) as data, never as terminal input.

A run or metric name can carry an escape sequence (OSC 52 writes the user's clipboard, OSC 0 the window title),
a newline that forges a log line, bidi overrides that reorder what is shown, or bytes that are not UTF-8. Like git
and ripgrep do for paths, :func:`shown` replaces each such character by a visible escape: ``\\x1b``, ``\\n``,
``\\u202e``; an undecodable byte (a Latin-1 file name, which Python carries as a surrogate escape) is shown as the
``\\xNN`` of that byte. :func:`rich_text` wraps the result for Rich/Textual, where markup (``[/]``) is not parsed.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL, C1 controls; bidi embeddings/overrides/isolates; lone surrogates (undecodable bytes).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's surrogateescape for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def shown(value: Any) -> str:
    """``value`` as text that is safe to print to a terminal or a log line."""
    text = value if isinstance(value, str) else str(value)
    if text.isascii() and text.isprintable():
        return text  # nothing to escape (most names and every number): skip the regular expression
    return _UNSAFE.sub(_escape, text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes) escaped as :func:`shown` shows them, so that UTF-8 stores
    (SQLite, JSON for other tools) accept it; everything else is kept as it is (it is data)."""
    return _SURROGATE.sub(_escape, text)


def shown_lines(value: Any) -> str:
    """Like :func:`shown`, but keeps line breaks (tracebacks, multi-line messages rankinv composed itself)."""
    return "\n".join(shown(line) for line in str(value).split("\n"))


def rich_text(value: Any, style: str = "") -> Any:
    """A Rich ``Text`` of the shown value: for tables and Textual widgets, where a plain ``str`` is markup."""
    from rich.text import Text

    return Text(shown(value), style=style)
