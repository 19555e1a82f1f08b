"""From one parsed log record (a mapping of raw keys to raw values) to canonical MetricPoints.

Shared by every reader so that a value means the same thing whatever format carried it: numbers and numeric
strings (transformers 5 prints ``'entropy': '2.759'``) become floats, NaN and ±Inf are kept (a NaN entropy is news),
None, booleans and text are skipped without losing the rest of the record, nested mappings are flattened
with ``/``. A step beyond what SQLite's INTEGER holds (64-bit) rejects that one record, never the run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rankinv.metrics import STEP_KEYS, TIME_KEYS, MetricPoint, canonical_name

MAX_STEP = 2**63 - 1


@dataclass(frozen=True)
class Record:
    """One logging call: its step (None when the format has none), wall time and numeric values by raw key."""

    step: int | None
    time: float | None
    values: Mapping[str, float]

    @cached_property
    def role(self) -> str:
        """train, eval or summary: how a record without a step number advances the step counter."""
        if "train_runtime" in self.values:
            return "summary"
        metrics = len(self.values) - ("epoch" in self.values)
        if metrics and all(k.startswith(("eval_", "eval/")) or k == "epoch" for k in self.values):
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
    if not values or _out_of_range(step):
        return None
    wall = to_float(time)
    return Record(to_step(step), wall if wall is not None and math.isfinite(wall) else None, values)


def _out_of_range(step: Any) -> bool:
    number = to_float(step)
    return number is not None and number > MAX_STEP  # +inf too (a 400-digit step); NaN compares false


def points(run: str, step: int, record: Record) -> list[MetricPoint]:
    """The record's values as MetricPoints; an eval or summary record's ``epoch`` repeats the training one's."""
    keep_epoch = record.role == "train"
    items = [(k, v) for k, v in record.values.items() if keep_epoch or k != "epoch"]
    return [MetricPoint(run, step, canonical_name(k), v, record.time) for k, v in items]
