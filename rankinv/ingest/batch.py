"""The points of one read, kept as the columns the readers decoded them into until a consumer asks.

A large log holds millions of values. Making a :class:`~rankinv.metrics.MetricPoint` for each costs about as much
as decoding it, and most consumers do not need the objects. The store binds the columns as they are
(:meth:`Points.parts`: ``zip`` over them, one tuple at a time and reused, never a list of rows); the live monitors
take ``(step, name, value, time)`` rows of the few metrics they follow (:meth:`Points.rows` with ``names``), picked
from the columns at C speed. Anything else sees a sequence of MetricPoints, made when first asked for and equal,
point for point, to what the readers built one by one (tests compare).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import chain, compress, repeat
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple, overload

from rankinv.ingest.columns import KEEP, NAMES, POINTS, Columns, Layout, plain_steps
from rankinv.ingest.notes import StepNote, Where
from rankinv.metrics import MetricPoint

Row = tuple[int, str, float, "float | None"]


class Part(NamedTuple):
    """One chunk of a read's points as a store binds them (:meth:`Points.parts`)."""

    plain: bool  # rows are ``(lead, name, step, value, time)``, steps plain ints (0 to 2^53), values floats
    rows: Iterable[Any]  # else ``(step, name, value, time)`` rows of points made one by one, for the store to check
    size: int  # points in the chunk
    last_step: int | None  # the step of its last point


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


def _bound_rows(lead: object, block: Columns) -> Iterable[Any]:
    """The block's ``(lead, name, step, value, time)`` tuples, in order, zipped from the columns (no list; a block
    of one record, the daemon's usual read, as a short list: the same tuples without a dozen chained iterators)."""
    if len(block.rows) == 1:
        shape, step, time = block.shapes[0], block.steps[0], block.times[0]
        pairs = zip(shape.names, block.rows[0].values(), strict=True)
        made = [(lead, name, step, value, time) for name, value in pairs]
        return made if shape.points == len(made) else list(compress(made, shape.keep))
    steps, names, values = _columns(block)
    times = repeat(None) if block.times.count(None) == len(block.times) else _times(block)
    return _kept(block, zip(repeat(lead), names, steps, values, times))


def _last_step(block: Columns) -> int | None:
    """The step of the block's last point (its last record with one)."""
    for step, shape in zip(reversed(block.steps), reversed(block.shapes), strict=True):
        if shape.points:
            return step
    return None


_FOLLOWED: dict[frozenset[str], dict[int, tuple[Layout, tuple[bool, ...]]]] = {}
"""Per set of followed names, by layout (its id; the layout is held, so the id stays its own): per key, is it a
point of one of those names?"""


def _followed(shapes: list[Layout], names: frozenset[str]) -> Iterator[bool]:
    """Per key of every record: is it a point of one of ``names``? (Worked out once per layout, looked up by id.)"""
    known = _FOLLOWED.setdefault(names, {})
    ids = list(map(id, shapes))
    missing = set(ids).difference(known)
    if missing:
        if len(known) + len(missing) > 4096:
            known.clear()
            missing = set(ids)
        by_id = dict(zip(ids, shapes, strict=True))
        for i in missing:
            shape = by_id[i]
            known[i] = (shape, tuple(k and n in names for n, k in zip(shape.names, shape.keep, strict=True)))
    return chain.from_iterable(map(_SECOND, map(known.__getitem__, ids)))


_SECOND = itemgetter(1)


def _chunk_rows_of(block: Columns, names: frozenset[str]) -> Iterable[Row]:
    """The block's rows of the metrics ``names`` only, as :func:`_chunk_rows` filtered would give them."""
    picked = list(_followed(block.shapes, names))
    if len(block.rows) == 1:  # the daemon's usual read: the same rows, listed without the chained columns
        step, time = block.steps[0], block.times[0]
        pairs = zip(block.shapes[0].names, block.rows[0].values(), strict=True)
        return [(step, name, value, time) for name, value in compress(pairs, picked)]
    steps, found, values = (compress(column, picked) for column in _columns(block))
    times = repeat(None) if block.times.count(None) == len(block.times) else compress(_times(block), picked)
    return zip(steps, found, values, times, strict=False)


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


_STEP, _NAME, _VALUE, _TIME = (attrgetter(n) for n in ("step", "name", "value", "time"))


def _fields(chunk: list[MetricPoint]) -> list[Iterator[Any]]:
    """Iterators over the points' steps, names, values and times."""
    return [map(_STEP, chunk), map(_NAME, chunk), map(_VALUE, chunk), map(_TIME, chunk)]


def _made_part(lead: object, chunk: list[MetricPoint]) -> Part:
    """Points made one by one, as a store binds them: zipped from their fields when every step is a plain int and
    every value a float (checked at C speed), else as rows for the store to check."""
    steps = list(map(_STEP, chunk))
    if plain_steps(steps) and set(map(type, map(_VALUE, chunk))) == {float}:
        rows = zip(repeat(lead), map(_NAME, chunk), steps, map(_VALUE, chunk), map(_TIME, chunk), strict=False)
        return Part(True, rows, len(chunk), steps[-1])
    return Part(False, list(zip(*_fields(chunk), strict=True)), len(chunk), chunk[-1].step)


class Points(Sequence[MetricPoint]):
    """The points of one read, in order: blocks of columns and points made one by one, as the reader met them;
    and :attr:`notes`, the records the read skipped because their step cannot be one, by cause."""

    __slots__ = ("_chunks", "_list", "_size", "notes", "run")

    def __init__(self, run: str, points: Iterable[MetricPoint] = ()) -> None:
        self.run = run
        self._chunks: list[Columns | list[MetricPoint]] = []
        self._size = 0
        self._list: list[MetricPoint] | None = None
        self.notes: dict[str, StepNote] = {}  # by StepNote.key: one per file and cause, the first record and a count
        self.extend(points)

    def note(self, problem: tuple[str, str], where: Where) -> None:
        """A record skipped for its step (``problem``: the cause and the step as written), found at ``where``."""
        cause, value = problem
        found = StepNote(cause, value, where)
        known = self.notes.get(found.key)
        if known is None:
            self.notes[found.key] = found
        else:
            known.count += 1

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

    def absorb(self, other: Points) -> None:
        """Add the points of another read of the same run after these (its blocks shared, its lists copied)."""
        self._chunks += [list(c) if isinstance(c, list) else c for c in other._chunks]
        self._size += other._size
        self._list = None
        for key, note in other.notes.items():
            known = self.notes.get(key)
            if known is None:
                self.notes[key] = StepNote(note.cause, note.value, note.where, note.count)
            else:
                known.count += note.count

    def rows(self, names: Collection[str] | None = None) -> list[Row]:
        """Every point as ``(step, name, value, time)``, in order, made without a MetricPoint per point; with
        ``names``, only the points of those metrics (picked from the columns, not from rows made for all)."""
        out: list[Row] = []
        wanted = None if names is None else frozenset(names)
        for chunk in self._chunks:
            if isinstance(chunk, list):
                if not chunk:
                    continue  # the empty list a read of columns starts with
                made = zip(*_fields(chunk), strict=True)
                out.extend(made if wanted is None else compress(made, map(wanted.__contains__, map(_NAME, chunk))))
            else:
                out.extend(_chunk_rows(chunk) if wanted is None else _chunk_rows_of(chunk, wanted))
        return out

    def parts(self, lead: object) -> Iterator[Part]:
        """The points chunk by chunk as a store binds them (see :class:`Part`); ``lead`` opens every plain row
        (the run's id in the store)."""
        for chunk in self._chunks:
            if isinstance(chunk, list):
                if chunk:
                    yield _made_part(lead, chunk)
            else:
                yield Part(True, _bound_rows(lead, chunk), sum(map(POINTS, chunk.shapes)), _last_step(chunk))

    def values(self) -> Iterator[float]:
        """Every point's value, in order, without making the points."""
        return chain.from_iterable(
            (p.value for p in c) if isinstance(c, list) else _kept(c, chain.from_iterable(map(dict.values, c.rows)))
            for c in self._chunks
        )  # a block's values as _columns gives them (its steps and names not zipped for nothing)

    def only_columns(self) -> bool:
        """Are all the points in blocks of columns (none made one by one)? Then the store binds every one of them."""
        return not any(isinstance(c, list) and c for c in self._chunks)

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
