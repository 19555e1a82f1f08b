"""verl console lines: ``step:12 - actor/entropy:np.float64(0.53) - critic/score/mean:0.25``.

verl's console logger joins ``key:value`` pairs with `` - ``; values are ``pprint`` reprs (``np.float64(x)`` under
NumPy 2, plain numbers before), and Ray prefixes worker output with ``(TaskRunner pid=1234)``.
"""

from __future__ import annotations

import re

from rankinv.ingest.values import Record, record_from_mapping

_STEP = re.compile(r"(?:^|[\s)\]])step:(?P<step>\d+)(?P<rest>(?: - [^\r\n]*)?)$")
_WRAPPED = re.compile(r"^(?:np\.|numpy\.)?\w*\((?P<v>[^()]*)\)$")


def _value(text: str) -> str:
    text = text.strip()
    if not text.endswith(")"):
        return text
    if text.startswith("np.float64("):  # NumPy 2's repr: what _WRAPPED would give, without the regex
        inner = text[11:-1]
        if "(" not in inner and ")" not in inner:
            return inner.strip()
    match = _WRAPPED.match(text)
    return match["v"].strip() if match else text


def parse_line(line: str) -> Record | None:
    segment = line.rsplit("\r", 1)[-1].rstrip()
    match = _STEP.search(segment)
    if match is None:
        return None
    pairs = (part.rpartition(":") for part in match["rest"].split(" - ")[1:])
    values = {key.strip(): _value(raw) for key, _, raw in pairs if key.strip()}  # no colon: key is ""
    return record_from_mapping(values, step=match["step"])
