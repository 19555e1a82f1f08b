"""Read a printed flat dict (``{'loss': '0.12', 'epoch': 0.5}``) recognised by one regular expression, not a parser.

Covers exactly what Python prints for a flat dict of string keys and numbers or strings: quoted keys and strings
without backslashes, decimal ints and floats, ``', '`` and ``': '`` separators. For such text the mapping is the
one :func:`ast.literal_eval` returns (same keys, order, types and values); anything else (escapes, ``True``,
``None``, nesting, other spacing) returns None and is left to the general path. The usual dict (no double quote,
no int) is then decoded by msgspec once its quotes are swapped (:func:`as_json`), else read pair by pair.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

_STR = r"'[^'\\\r\n\x00]*'|\"[^\"\\\r\n\x00]*\""
_INT = r"-?(?:0|[1-9][0-9]*)"
_FLOAT = r"-?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)"
_PAIR = rf"(?:{_STR}): (?:{_STR}|{_FLOAT}|{_INT})"
_DICT = re.compile(rf"\{{{_PAIR}(?:, {_PAIR})*\}}")
_DECODE = msgspec.json.Decoder(dict[str, Any]).decode
_ITEMS = re.compile(
    r"(?:'([^']*)'|\"([^\"]*)\"): (?:'([^']*)'|\"([^\"]*)\"|" + rf"({_FLOAT})|({_INT}))(?=, |\}}$)"
)  # fmt: skip


def parse(text: str) -> dict[str, Any] | None:
    """The dict ``text`` prints, when it is a flat dict of the simple form; else None."""
    if _DICT.fullmatch(text) is None:
        return None
    fast = as_json(text) if '"' not in text else None
    return fast if fast is not None else _items(text)


def as_json(text: str) -> dict[str, Any] | None:
    """A simple-form dict without double quotes read as JSON once its quotes are swapped (msgspec: several times
    faster than the pairs one by one), or None when JSON reads it otherwise than :func:`_items` would.

    Its strings hold no backslash or quote, so JSON gives their text as it is; its numbers that JSON accepts are
    read to the same float or int. JSON refuses what the pairs accept (``1.``, ``00.5``, a tab in a string, a
    number beyond a double); ints are left to :func:`_items` (which refuses those longer than Python converts).
    """
    try:
        out = _DECODE(text.replace("'", '"'))
    except msgspec.DecodeError:
        return None
    return out if int not in set(map(type, out.values())) else None


def _items(text: str) -> dict[str, Any] | None:
    """The pairs of a simple-form dict, one by one."""
    out: dict[str, Any] = {}
    try:
        for k1, k2, s1, s2, real, whole in _ITEMS.findall(text):
            key = k1 or k2
            out[key] = float(real) if real else int(whole) if whole else s1 or s2
    except ValueError:  # an int longer than Python converts
        return None
    return out
