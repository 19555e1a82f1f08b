"""Read a printed flat dict (``{'loss': '0.12', 'epoch': 0.5}``) with one regular expression, not a parser.

Covers exactly what Python prints for a flat dict of string keys and numbers or strings: quoted keys and strings
without backslashes, decimal ints and floats, ``', '`` and ``': '`` separators. For such text the mapping is the
one :func:`ast.literal_eval` returns (same keys, order, types and values); anything else (escapes, ``True``,
``None``, nesting, other spacing) returns None and is left to the general path.
"""

from __future__ import annotations

import re
from typing import Any

_STR = r"'[^'\\\r\n\x00]*'|\"[^\"\\\r\n\x00]*\""
_INT = r"-?(?:0|[1-9][0-9]*)"
_FLOAT = r"-?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)"
_PAIR = rf"(?:{_STR}): (?:{_STR}|{_FLOAT}|{_INT})"
_DICT = re.compile(rf"\{{{_PAIR}(?:, {_PAIR})*\}}")
_ITEMS = re.compile(
    r"(?:'([^']*)'|\"([^\"]*)\"): (?:'([^']*)'|\"([^\"]*)\"|" + rf"({_FLOAT})|({_INT}))(?=, |\}}$)"
)  # fmt: skip


def parse(text: str) -> dict[str, Any] | None:
    """The dict ``text`` prints, when it is a flat dict of the simple form; else None."""
    if _DICT.fullmatch(text) is None:
        return None
    out: dict[str, Any] = {}
    try:
        for k1, k2, s1, s2, real, whole in _ITEMS.findall(text):
            key = k1 or k2
            out[key] = float(real) if real else int(whole) if whole else s1 or s2
    except ValueError:  # an int longer than Python converts
        return None
    return out
