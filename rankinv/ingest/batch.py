"""The points of one read, kept as the columns the readers decoded them into until a consumer asks.

A large log holds millions of values. Making a :class:`~rankinv.metrics.MetricPoint` for each costs about as much
as decoding it, and most consumers do not need the objects: the store and the live monitors take
``(step, name, value, time)`` rows, which :meth:`Points.rows` zips straight from the columns at C speed (one row
tuple at a time, freed as the store consumes it). Anything else sees a sequence of MetricPoints, made when first
asked for and equal, point for point, to what the readers built one by one (tests compare).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, compress, repeat
from typing import Any, overload

from rankinv.ingest.columns import KEEP, NAMES, POINTS, Columns
from rankinv.metrics import MetricPoint

Row = tuple[int, str, float, "float | None"]


def _chunk_points(run: str, block: Columns) -> Iterator[MetricPoint]:
    """The block's points in record order, straight from its columns."""
    columns = [repeat(run), *_columns(block)]
    if block.times.count(None) != len(block.times):  # else every point keeps the default time, None
        columns.append(_times(block))
    return _kept(block, map(MetricPoint, *columns))


def _chunk_rows(block: Columns) -> Iterator[Row]:
    """The block's ``(step, name, value, time)`` rows, as :func:`_chunk_points` would give them."""
    times = repeat(None) if block.times.count(None) == len(block.times) else _times(block)
    return _kept(block, zip(*_columns(block), times, strict=False))  # the time column may be endless


def _columns(block: Columns) -> list[Iterator[Any]]:
    """Iterators over the steps, names and values of every key of every record, in order."""
    steps, _, rows, shapes = block
    sizes = list(map(len, rows))
    return [chain.from_iterable(map(repeat, steps, sizes)), chain.from_iterable(map(NAMES, shapes)),
            chain.from_iterable(map(dict.values, rows))]  # fmt: skip


def _times(block: Columns) -> Iterator[float | None]:
    return chain.from_iterable(map(repeat, block.times, map(len, block.rows)))


def _kept(block: Columns, made: Iterator[Any]) -> Iterator[Any]:
    """Only the keys that are points (not a step or time key, not an eval's ``epoch``)."""
    return made if _all_kept(block) else compress(made, chain.from_iterable(map(KEEP, block.shapes)))


def _all_kept(block: Columns) -> bool:
    kept: int = sum(map(POINTS, block.shapes))
    return kept == sum(map(len, block.rows))


class Points(Sequence[MetricPoint]):
    """The points of one read, in order: blocks of columns and points made one by one, as the reader met them."""

    __slots__ = ("_chunks", "_list", "_size", "run")

    def __init__(self, run: str, points: Iterable[MetricPoint] = ()) -> None:
        self.run = run
        self._chunks: list[Columns | list[MetricPoint]] = []
        self._size = 0
        self._list: list[MetricPoint] | None = None
        self.extend(points)

    def add_columns(self, block: Columns) -> None:
        """Add the points of a block of flat records (each at its step and time), without making them."""
        size = sum(map(POINTS, block.shapes))
        if size:
            self._chunks.append(block)
            self._size += size
            self._list = None

    def extend(self, points: Iterable[MetricPoint]) -> None:
        if not self._chunks or not isinstance(self._chunks[-1], list):
            self._chunks.append([])
        last = self._chunks[-1]
        assert isinstance(last, list)
        before = len(last)
        last.extend(points)
        self._size += len(last) - before
        self._list = None

    def rows(self) -> list[Row]:
        """Every point as ``(step, name, value, time)``, in order, made without a MetricPoint per point."""
        out: list[Row] = []
        for chunk in self._chunks:
            if isinstance(chunk, list):
                out += [(p.step, p.name, p.value, p.time) for p in chunk]
            else:
                out.extend(_chunk_rows(chunk))
        return out

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[MetricPoint]:
        if self._list is not None:
            return iter(self._list)
        return chain.from_iterable(c if isinstance(c, list) else _chunk_points(self.run, c) for c in self._chunks)

    def as_list(self) -> list[MetricPoint]:
        """The points as MetricPoints (made once, then kept)."""
        if self._list is None:
            self._list = list(iter(self))
        return self._list

    @overload
    def __getitem__(self, index: int) -> MetricPoint: ...

    @overload
    def __getitem__(self, index: slice) -> list[MetricPoint]: ...

    def __getitem__(self, index: int | slice) -> MetricPoint | list[MetricPoint]:
        return self.as_list()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Points | list | tuple):
            return len(self) == len(other) and self.as_list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Points({self.run!r}, {len(self)} points)"
