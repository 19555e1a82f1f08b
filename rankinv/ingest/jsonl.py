"""JSON Lines: rankinv's callback records, verl's file logger, and generic flat records.

- rankinv: ``{"step": 12, "time": 1.7e9, "epoch": 0.5, "logs": {...on_log dict...}}``
- verl ``file`` logger: ``{"step": 12, "data": {"actor/entropy": 0.53, ...}}``
- flat (W&B exports, OpenRLHF, home-grown loggers): ``{"step": 12, "train/kl": 0.01, ...}``; the step may be
  ``global_step``, ``_step`` or ``iteration`` and nested mappings are flattened with ``/``.

Lines are decoded one by one with msgspec, straight into floats; a block of callback or verl lines with plain
steps becomes columns whose points are made all at once (:mod:`rankinv.ingest.columns`). A line msgspec refuses
(``NaN``, ``Infinity``, numbers beyond a double) goes to Python's JSON parser, which accepts ``NaN`` and
``Infinity``; they are kept as values. A ``null`` metric (verl's
file logger writes a NaN as null) is kept as a missing value (NaN), never dropped. A complete line that is not a
JSON object is skipped and noted once per file (:func:`parse_line_noted`, :data:`rankinv.ingest.notes.NOT_JSON`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from operator import attrgetter
from typing import Any

import msgspec

from rankinv.ingest import columns
from rankinv.ingest.columns import Columns
from rankinv.ingest.notes import NOT_JSON, shown_value
from rankinv.ingest.values import EXACT_STEP, Record, record_from_mapping, refused, to_float, to_step
from rankinv.metrics import STEP_KEYS, TIME_KEYS

_PARSE_ERRORS = (ValueError, RecursionError, MemoryError)


_DECODE = msgspec.json.Decoder().decode


class _Payload(msgspec.Struct, gc=False):
    """A line of the callback (``logs``) or verl file logger (``data``) shape, metrics decoded as floats.

    Not tracked by the garbage collector (``gc=False``): decoded JSON holds no cycles, and a block makes tens of
    thousands of them, whose tracking cost a tenth of the read in collections."""

    logs: dict[str, float] | None = None
    data: dict[str, float] | None = None
    step: Any = None
    time: Any = None


_PAYLOADS = msgspec.json.Decoder(_Payload)
_STEP_OR_TIME = frozenset((*STEP_KEYS, *TIME_KEYS))


def loads(text: str | bytes) -> Any:
    """Parse one JSON document: msgspec, or Python's parser for what msgspec refuses (same result where both parse).

    Raises what :func:`json.loads` raises for text neither accepts.
    """
    try:
        return _DECODE(text)
    except msgspec.DecodeError:
        return json.loads(text)


def parse_line(line: str) -> Record | None:
    """The record of a line that may hold a JSON object (a console line: anything else is simply not one)."""
    obj = _object(line.strip())
    return parse_object(obj) if obj is not None else None


def parse_line_noted(line: str) -> Record | None:
    """:func:`parse_line` for a line of a JSON Lines log, where every non-blank line should be a JSON object: one
    that is not gives a Record naming the problem (the reader skips and notes it), not None."""
    text = line.strip()
    if not text:
        return None
    obj = _object(text)
    if obj is None:
        return Record(None, None, {}, (NOT_JSON, shown_value(text)))
    return parse_object(obj)


def _object(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        obj = loads(text)
    except _PARSE_ERRORS:
        return None
    return obj if isinstance(obj, dict) else None


def parse_block(data: bytes) -> Columns | Iterator[Record]:
    """The records in a block of complete lines, as :func:`parse_line` gives them, parsed as fast as the lines allow.

    Fastest: every line has the callback's or verl's shape with numeric metrics and a plain step, decoded by msgspec
    straight into floats and returned as columns (their points are made all at once). Else each line on its own:
    that shape, or any JSON object (:func:`parse_line`). Lines are decoded one by one, never with ``decode_lines``,
    which would also take two objects on one line, or one object across two lines.
    """
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    try:
        payloads = list(map(_PAYLOADS.decode, lines))
    except msgspec.DecodeError:  # a blank line, NaN, a null, text, nesting, junk: each line on its own
        return _each_line(lines)
    found = _columns(payloads)
    return found if found is not None else _payload_records(payloads, lines)


_LOGS, _DATA, _STEP, _TIME = (attrgetter(name) for name in ("logs", "data", "step", "time"))


def _columns(payloads: list[_Payload]) -> Columns | None:
    """The payloads as columns, when each is what the columns path reads exactly as :func:`parse_object` would."""
    rows = list(map(_LOGS, payloads))
    if None in rows:
        if rows.count(None) != len(rows):
            return None  # callback and verl lines mixed: record by record
        rows = list(map(_DATA, payloads))
        if None in rows:
            return None
    steps, times = list(map(_STEP, payloads)), list(map(_TIME, payloads))
    shapes = columns.layouts(rows)
    if shapes is None or not columns.plain(shapes) or not columns.plain_steps(steps) or not columns.plain_times(times):
        return None
    return Columns(steps, times, rows, shapes)


def _payload_records(payloads: list[_Payload], lines: list[bytes]) -> Iterator[Record]:
    for payload, line in zip(payloads, lines, strict=True):
        if payload.logs is None and payload.data is None:  # a flat record: any JSON object
            record = parse_line(line.decode("utf-8", errors="replace").rstrip("\r"))
        else:
            record = _payload_record(payload)
        if record is not None:
            yield record


def _each_line(lines: list[bytes]) -> Iterator[Record]:
    for line in lines:
        record = _line_record(line) if line.strip() else None
        if record is not None:
            yield record


def _line_record(line: bytes) -> Record | None:
    try:
        payload = _PAYLOADS.decode(line)
    except msgspec.DecodeError:
        payload = None
    if payload is not None and (payload.logs is not None or payload.data is not None):
        return _payload_record(payload)
    return parse_line_noted(line.decode("utf-8", errors="replace").rstrip("\r"))


def _payload_record(payload: _Payload) -> Record | None:
    """What :func:`parse_object` makes of the same line, without re-checking values msgspec already made floats."""
    inner = payload.logs if payload.logs is not None else payload.data
    assert inner is not None
    if not inner:
        return None
    step, time = payload.step, payload.time
    if not _STEP_OR_TIME.isdisjoint(inner):
        return record_from_mapping(inner, step=step, time=time, null_is_nan=True)
    if type(time) is not float or not math.isfinite(time):
        wall = to_float(time)
        time = wall if wall is not None and math.isfinite(wall) else None
    if type(step) is not int or not 0 <= step <= EXACT_STEP:
        bad = refused(step, time, inner)
        if bad is not None:
            return bad
        step = to_step(step)
    return Record(step, time, inner)


def parse_object(obj: Mapping[str, Any]) -> Record | None:
    for payload in ("logs", "data"):
        inner = obj.get(payload)
        if type(inner) is dict or isinstance(inner, Mapping):
            return record_from_mapping(inner, step=obj.get("step"), time=obj.get("time"), null_is_nan=True)
    return record_from_mapping(obj, null_is_nan=True)
