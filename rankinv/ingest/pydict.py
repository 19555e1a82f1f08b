"""HF/TRL stdout: the Python-dict lines ``Trainer`` prints on every log call.

Lines look like ``{'loss': 0.12, 'entropy': '2.759', 'epoch': 0.5}`` (TRL 1.x formats floats as quoted strings),
possibly indented, prefixed, or sharing a physical line with ``\\r``-redrawn tqdm bars. They are read with
:func:`ast.literal_eval` (literals only: nothing is executed), after rewriting the non-literal values some
loggers print (``nan``, ``inf``, ``np.float64(0.5)``, ``tensor(0.5)``) into literals.
"""

from __future__ import annotations

import ast
import re

from rankinv.ingest.values import Record, record_from_mapping

_WRAPPED = re.compile(
    r"\b(?:np\.|numpy\.)?(?:float|int|uint)(?:16|32|64)?\((?P<v>[^()]*)\)|\btensor\((?P<t>[^(),]*)[^()]*\)"
)
_BARE = re.compile(r"(?<![\w'\".])(?P<v>-?inf|nan|NaN|-?Infinity)(?![\w'\"])")
_PARSE_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


def _literal_source(segment: str) -> str | None:
    start = min((i for i in (segment.find("{'"), segment.find('{"')) if i >= 0), default=-1)
    end = segment.rfind("}")
    if start < 0 or end < start:
        return None
    text = _WRAPPED.sub(lambda m: m["v"] if m["v"] is not None else m["t"], segment[start : end + 1])
    return _BARE.sub(lambda m: repr(m["v"]), text)


def parse_line(line: str) -> Record | None:
    """The last dict literal on the line (after the final tqdm redraw), or None."""
    for segment in reversed(line.split("\r")):
        source = _literal_source(segment)
        if source is None:
            continue
        try:
            value = ast.literal_eval(source)
        except _PARSE_ERRORS:
            continue
        if isinstance(value, dict):
            return record_from_mapping({str(k): v for k, v in value.items()})
    return None
