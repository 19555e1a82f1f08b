"""JSON Lines: rankinv's callback records, verl's file logger, and generic flat records.

- rankinv: ``{"step": 12, "time": 1.7e9, "epoch": 0.5, "logs": {...on_log dict...}}``
- verl ``file`` logger: ``{"step": 12, "data": {"actor/entropy": 0.53, ...}}``
- flat (W&B exports, OpenRLHF, home-grown loggers): ``{"step": 12, "train/kl": 0.01, ...}``; the step may be
  ``global_step``, ``_step`` or ``iteration`` and nested mappings are flattened with ``/``.

Python's JSON parser accepts ``NaN`` and ``Infinity``; they are kept as values. A ``null`` metric (verl's
file logger writes a NaN as null) is kept as a missing value (NaN), never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rankinv.ingest.values import Record, record_from_mapping

_PARSE_ERRORS = (ValueError, RecursionError, MemoryError)


def parse_line(line: str) -> Record | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except _PARSE_ERRORS:
        return None
    return parse_object(obj) if isinstance(obj, dict) else None


def parse_object(obj: Mapping[str, Any]) -> Record | None:
    for payload in ("logs", "data"):
        inner = obj.get(payload)
        if isinstance(inner, Mapping):
            return record_from_mapping(inner, step=obj.get("step"), time=obj.get("time"), null_is_nan=True)
    return record_from_mapping(obj, null_is_nan=True)
