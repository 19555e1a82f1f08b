"""Many flat records at once: their layouts worked out once per key set, not a loop per value.

A large log holds millions of values; a Python loop per value (or per record) costs more than parsing them. For
records already decoded as ``dict[str, float]`` (msgspec does that), everything a record's points depend on but
its values and step — canonical names, which keys are points (not a step or time key, not an eval's ``epoch``),
its role — depends only on its key set, which repeats every logging call; :func:`layout` computes that once per
key set. :class:`rankinv.ingest.batch.Points` keeps such blocks as they are and makes their points, or the store's
rows, from them at C speed: exactly what :func:`rankinv.ingest.values.points` gives record by record (tests compare).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from operator import attrgetter
from typing import Any, NamedTuple

from rankinv.ingest.values import EXACT_STEP, role_of
from rankinv.metrics import STEP_KEYS, TIME_KEYS, canonical_name


class Layout(NamedTuple):
    """What the points of a record with these keys are, whatever its values."""

    names: tuple[str, ...]  # canonical name per key (placeholder where ``keep`` is False)
    keep: tuple[bool, ...]  # per key: does it become a point?
    train: bool  # a training record (counts as a logging call)
    step_key: str | None  # the first step key, if the record carries one
    time_key: str | None
    points: int  # how many of its keys become points
    plain: bool  # every key is a metric (no step or time key), at least one
    clean: bool  # no key is empty or has spaces around it
    summary: bool  # the end-of-training summary (``train_runtime``)


class Columns(NamedTuple):
    """Flat records of floats, each with a plain step (see :func:`plain_steps`) and time, and its layout."""

    steps: list[int]
    times: list[float | None]
    rows: list[dict[str, float]]
    shapes: list[Layout]


@lru_cache(maxsize=4096)
def layout(keys: tuple[str, ...]) -> Layout | None:
    """The layout of a record with these keys (in this order); None when a key is not a string."""
    if not all(type(k) is str for k in keys):
        return None
    metric = [k for k in keys if k not in STEP_KEYS and k not in TIME_KEYS]
    role = role_of(tuple(metric))
    keep = tuple(k not in STEP_KEYS and k not in TIME_KEYS and (role == "train" or k != "epoch") for k in keys)
    names = tuple(canonical_name(k) if kept else "" for k, kept in zip(keys, keep, strict=True))
    step = next((k for k in keys if k in STEP_KEYS), None)
    time = next((k for k in keys if k in TIME_KEYS), None)
    plain = len(metric) == len(keys) > 0
    clean = all(k and k == k.strip() for k in keys)
    return Layout(names, keep, role == "train" and bool(metric), step, time, sum(keep), plain, clean, role == "summary")


NAMES, KEEP, POINTS = (attrgetter(n) for n in ("names", "keep", "points"))
_TRAIN, _PLAIN, _CLEAN = (attrgetter(n) for n in ("train", "plain", "clean"))


def layouts(rows: Sequence[Mapping[str, float]]) -> list[Layout] | None:
    """Each row's layout, or None when one has a non-string key."""
    found = list(map(layout, map(tuple, rows)))
    return None if None in found else found  # type: ignore[return-value]


def plain(shapes: Sequence[Layout]) -> bool:
    """Is every record's every key a metric?"""
    return all(map(_PLAIN, shapes))


def clean(shapes: Sequence[Layout]) -> bool:
    """Are all keys non-empty, without spaces around them?"""
    return all(map(_CLEAN, shapes))


def training_records(shapes: Sequence[Layout]) -> int:
    return sum(map(_TRAIN, shapes))


def plain_steps(steps: Sequence[Any]) -> bool:
    """Are all steps ints a record carries as they are (0 to 2^53, never a bool)?"""
    return not steps or (set(map(type, steps)) == {int} and min(steps) >= 0 and max(steps) <= EXACT_STEP)


def plain_times(times: Sequence[object]) -> bool:
    """Are all times finite floats or None, kept as they are?"""
    return set(map(type, times)) <= {float, type(None)} and all(map(math.isfinite, filter(None, times)))  # type: ignore[arg-type]
