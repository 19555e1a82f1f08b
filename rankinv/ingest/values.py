"""From one parsed log record (a mapping of raw keys to raw values) to canonical MetricPoints.

Shared by every reader so that a value means the same thing whatever format carried it: numbers and numeric
strings (transformers 5 prints ``'entropy': '2.759'``) become floats, NaN and ±Inf are kept (a NaN entropy is news),
None, booleans and text are skipped without losing the rest of the record, nested mappings are flattened
with ``/``. A step that cannot be one (negative, a fraction, NaN or infinite, a boolean or text, beyond what
SQLite's INTEGER holds) gives a Record without a step that names the problem (:attr:`Record.problem`): readers skip
it and note it once per cause (:mod:`rankinv.ingest.notes`), never placing it at a step it was not logged at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Any

import msgspec

from rankinv.ingest.notes import shown_value
from rankinv.metrics import STEP_KEYS, TIME_KEYS, MetricPoint, canonical_name

MAX_STEP = 2**63 - 1
EXACT_STEP = 2**53  # an int step up to this is the step; beyond, it is read through a float (``to_step``)
Shape = tuple[str, tuple[str, ...], int]
"""A record's role, canonical names and the index of an ``epoch`` its points leave out (-1: none)."""


class Record(msgspec.Struct, frozen=True, gc=False):
    """One logging call: its step (None when the format has none), wall time and numeric values by raw key.

    A msgspec Struct (built at C speed, never tracked by the garbage collector): one is made per logged line.
    """

    step: int | None
    time: float | None
    values: Mapping[str, float]
    problem: tuple[str, str] | None = None
    """Why the record's step was refused (a cause of :data:`rankinv.ingest.notes.PROBLEMS`, and the step as
    written), or None; such a record has no step and is skipped by every reader, with a note."""

    @property
    def role(self) -> str:
        """train, eval or summary: how a record without a step number advances the step counter."""
        return _shape(tuple(self.values))[0]


@lru_cache(maxsize=4096)
def _shape(keys: tuple[str, ...]) -> Shape:
    """A record's role, canonical names and the index of an ``epoch`` its points leave out (-1: none).

    All three depend only on the record's keys, which repeat every logging call: computed once per key set.
    """
    role = role_of(keys)
    drop = keys.index("epoch") if "epoch" in keys and role != "train" else -1
    return role, tuple(canonical_name(k) for k in keys), drop


def role_of(keys: tuple[str, ...]) -> str:
    """train, eval or summary, for a record with these metric keys."""
    if "train_runtime" in keys:
        return "summary"
    metrics = len(keys) - ("epoch" in keys)
    if metrics and all(k.startswith(("eval_", "eval/")) or k == "epoch" for k in keys):
        return "eval"
    return "train"


def to_float(value: Any) -> float | None:
    """A float for numbers and numeric strings; None for anything else (None, bools, text, containers)."""
    kind = type(value)
    if kind is float:
        return float(value)
    if kind is int:
        return _int_to_float(value)
    if kind is bool or value is None:
        return None
    if isinstance(value, int | float):  # numpy scalars and other number subclasses
        return _int_to_float(int(value)) if isinstance(value, int) else float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _int_to_float(value: int) -> float:
    """An int beyond float's range (a 400-digit JSON number) is ±inf, as ``float("1e400")`` would be."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def to_step(value: Any) -> int | None:
    number = to_float(value)
    if number is None or not math.isfinite(number) or number < 0:
        return None
    return int(number)


def step_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a record's step (a cause of :data:`rankinv.ingest.notes.PROBLEMS`), or None: a whole
    number from 0 to 2^63-1 (numeric text and an integral float such as ``3.0`` are one), or no step at all (None).

    Beyond 2^63-1 as read through a double, as :func:`to_step` reads it (the largest step SQLite's INTEGER holds)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "not a number"
    number = to_float(value)
    if number is None:
        return "not a number"
    if math.isnan(number) or (math.isinf(number) and not _digits(value)):
        return "not finite"  # a whole number beyond a double's range (a 400-digit step) is too large or negative
    if number > MAX_STEP:
        return "too large"
    if number < 0:
        return "negative"
    return None if number.is_integer() else "fractional"


def _digits(value: Any) -> bool:
    """An int, or text of decimal digits with a sign at most (``step:-1000…`` as verl's line would print it)."""
    return isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("+-").isdigit())


def refused(step: Any, time: float | None, values: Mapping[str, float]) -> Record | None:
    """The Record of a step :func:`step_problem` refuses (no step, the problem named), or None for a good step."""
    problem = step_problem(step)
    return None if problem is None else Record(None, time, values, (problem, shown_value(step)))


def flatten(raw: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) or (not isinstance(value, str | float | int) and isinstance(value, Mapping)):
            yield from flatten(value, f"{name}/")
        else:
            yield name, value


def record_from_mapping(
    raw: Mapping[str, Any], step: Any = None, time: Any = None, *, null_is_nan: bool = False
) -> Record | None:
    """Split step/time keys from metric values; None when nothing numeric remains.

    ``null_is_nan``: a ``null`` is a missing value kept as NaN (JSON has no NaN, so verl writes a NaN as null).
    """
    fast = _flat_record(raw, step, time)
    return fast if fast is not _SLOW else _record(raw, step, time, null_is_nan)


_SLOW: Any = object()
_NUMBER_TYPES = frozenset((float, int))
_STRING_TYPES = frozenset((str,))
_FLOAT_TYPES = frozenset((float,))
Getter = Callable[[Mapping[str, Any]], tuple[Any, ...]]


@lru_cache(maxsize=4096)
def _layout(keys: tuple[Any, ...]) -> tuple[tuple[str, ...], Getter | None, str | None, str | None] | None:
    """For a flat record's key set: its metric keys, a getter of their values (None: every key is a metric), its
    first step key and first time key. None when a key is not a string (the general path handles that)."""
    if not all(type(k) is str for k in keys):
        return None
    metric = tuple(k for k in keys if k not in STEP_KEYS and k not in TIME_KEYS)
    step = next((k for k in keys if k in STEP_KEYS), None)
    time = next((k for k in keys if k in TIME_KEYS), None)
    getter: Getter | None = None
    if len(metric) != len(keys):
        pick = itemgetter(*metric) if metric else (lambda _raw: ())
        getter = (lambda raw: (pick(raw),)) if len(metric) == 1 else pick
    return metric, getter, step, time


def _flat_record(raw: Mapping[str, Any], step: Any, time: Any) -> Record | None:
    """The common case at C speed: a flat record whose values are all numbers, or all numeric strings.

    Returns ``_SLOW`` for anything else (nesting, None, booleans, text), which :func:`_record` reads key by key;
    both give the same Record (tests compare them on the real-log corpus).
    """
    layout = _layout(tuple(raw))
    if layout is None:
        return _SLOW  # type: ignore[no-any-return]
    keys, getter, step_key, time_key = layout
    kinds = set(map(type, raw.values()))
    if not (kinds <= _NUMBER_TYPES or kinds == _STRING_TYPES):
        return _SLOW  # type: ignore[no-any-return]
    if getter is None and kinds == _FLOAT_TYPES:
        values = dict(raw)
    else:
        try:
            values = dict(zip(keys, map(float, raw.values() if getter is None else getter(raw)), strict=True))
        except (ValueError, OverflowError):  # text, or an int beyond float's range (the general path gives ±inf)
            return _SLOW  # type: ignore[no-any-return]
    if step is None and step_key is not None:
        step = raw[step_key]
    if not values:
        return None
    if time is None and time_key is not None:
        time = raw[time_key]
    return _made(step, time, values)


def _made(step: Any, time: Any, values: dict[str, float]) -> Record:
    """The record at its step, or refused (:func:`refused`) when the step cannot be one."""
    wall = to_float(time)
    wall = wall if wall is not None and math.isfinite(wall) else None
    if type(step) is int and 0 <= step <= EXACT_STEP:
        return Record(step, wall, values)
    return refused(step, wall, values) or Record(to_step(step), wall, values)


def _record(raw: Mapping[str, Any], step: Any, time: Any, null_is_nan: bool) -> Record | None:
    """The general path: nested mappings flattened, each value converted or skipped on its own."""
    values: dict[str, float] = {}
    for key, value in flatten(raw):
        if key in STEP_KEYS:
            step = value if step is None else step
        elif key in TIME_KEYS:
            time = value if time is None else time
        elif (number := to_float(value)) is not None:
            values[str(key)] = number
        elif value is None and null_is_nan:
            values[str(key)] = math.nan
    if not values:
        return None
    return _made(step, time, values)


def last_of_redraws(line: str, parse_segment: Callable[[str], Record | None]) -> Record | None:
    """The last record on a line a progress bar redrew (its segments split by ``\\r``), read from the end, or None."""
    for segment in reversed(line.split("\r")):
        record = parse_segment(segment)
        if record is not None:
            return record
    return None


def shape(record: Record) -> Shape:
    """The record's role, canonical names and the index of an ``epoch`` its points leave out (-1: none)."""
    return _shape(tuple(record.values))


def points(run: str, step: int, record: Record, known: Shape | None = None) -> list[MetricPoint]:
    """The record's values as MetricPoints; an eval or summary record's ``epoch`` repeats the training one's.

    Built at C speed (``map``): a large log holds millions of values. ``known``: the record's :func:`shape`.
    """
    _, names, drop = known or _shape(tuple(record.values))
    values: Any = record.values.values()
    if drop >= 0:
        names, values = names[:drop] + names[drop + 1 :], [v for i, v in enumerate(values) if i != drop]
    return list(map(MetricPoint, repeat(run), repeat(step), names, values, repeat(record.time)))


def float_points(run: str, raw: Mapping[str, float]) -> tuple[int | None, list[MetricPoint]]:
    """The step and points of a flat record whose values are all floats, made without an intermediate Record.

    The same as ``points(run, record.step, record)`` for ``record = record_from_mapping(raw)`` (no points when that
    is None or has no step): for readers that already hold floats, as msgspec decodes them. A step
    :func:`step_problem` refuses gives no step and no points (the caller asks :func:`step_problem` why).
    """
    keys = tuple(raw)
    layout = _layout(keys)
    if layout is None:
        return None, []
    metric, getter, step_key, time_key = layout
    if step_key is None:
        return None, []
    if step_problem(raw[step_key]) is not None:
        return None, []
    step = to_step(raw[step_key])
    if step is None or not metric:
        return step, []
    wall = raw[time_key] if time_key is not None else None
    time = wall if wall is not None and math.isfinite(wall) else None
    _, names, drop = _shape(metric)
    values: Any = raw.values() if getter is None else getter(raw)
    if drop >= 0:
        names, values = names[:drop] + names[drop + 1 :], [v for i, v in enumerate(values) if i != drop]
    return step, list(map(MetricPoint, repeat(run), repeat(step), names, values, repeat(time)))
