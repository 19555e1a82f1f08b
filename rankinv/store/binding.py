"""The metric rows a write binds, from plain ``(step, name, value, time)`` rows or from a read's columns.

A first read of a large log is hundreds of thousands of points. A reader's :class:`~rankinv.ingest.batch.Points`
hands them over as columns; binding those through ``executemany`` over a ``zip`` of the columns makes no row in
Python (one tuple at a time, reused), where a list comprehension would make a second tuple per point and check
each. A column's steps are plain ints and its values floats, so nothing is left to check: SQLite itself stores a
bound NaN as NULL (tests compare both ways). Rows from anywhere else are checked here, as always.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any, NamedTuple, Protocol, cast

from rankinv.store.base import nan_or_none

STEP_LIMIT = 2**63
MetricRow = tuple[int, str, int, "float | None", "float | None"]  # run_id, name, step, value, time
PointRow = tuple[int, str, float, "float | None"]  # step, name, value, time


class Part(Protocol):
    @property
    def plain(self) -> bool: ...
    @property
    def rows(self) -> Iterable[Any]: ...
    @property
    def size(self) -> int: ...
    @property
    def last_step(self) -> int | None: ...


class Columnar(Protocol):
    """Points kept as columns (:class:`rankinv.ingest.batch.Points`): their chunks as a store binds them."""

    def parts(self, lead: object) -> Iterator[Part]: ...


class Bound(NamedTuple):
    rows: Iterable[MetricRow]  # consumed once, by one executemany
    size: int
    last_step: int | None


def checked(run_id: int, rows: Iterable[PointRow]) -> list[MetricRow]:
    """Rows as the metrics table holds them: NaN as NULL, a step that does not fit SQLite's INTEGER dropped."""
    return [(run_id, name, int(step), nan_or_none(value), time) for step, name, value, time in rows
            if -STEP_LIMIT <= int(step) < STEP_LIMIT]  # fmt: skip


def bound(run_id: int, points: Iterable[PointRow] | Columnar) -> Bound:
    """What to bind for ``points`` of the run ``run_id``: the rows, how many, and the step of the last."""
    # An attribute lookup, not isinstance(points, Columnar): a runtime-checkable Protocol's isinstance walks its
    # members every call, 3-4% of a daemon's CPU under 500 live runs (py-spy) for one check per write.
    if not callable(getattr(points, "parts", None)):
        rows = checked(run_id, cast("Iterable[PointRow]", points))
        return Bound(rows, len(rows), rows[-1][2] if rows else None)
    parts: list[Iterable[MetricRow]] = []
    count, last = 0, None
    for part in cast(Columnar, points).parts(run_id):
        if part.plain:
            parts.append(part.rows)
            size, step = part.size, part.last_step
        else:
            rows = checked(run_id, part.rows)
            parts.append(rows)
            size, step = len(rows), rows[-1][2] if rows else None
        if size:
            count, last = count + size, step
    return Bound(chain.from_iterable(parts), count, last)
