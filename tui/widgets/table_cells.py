"""Change a DataTable's cells and row order without making it redraw every row.

DataTable's own ``update_cell`` and ``sort`` bump one counter that is part of every render cache key, so one
changed cell re-renders every visible cell of the table. Here a changed cell is written into the table's data and
only its row's assembled lines are dropped from the caches (its row is drawn again from the cells laid out so far,
:mod:`.table_lines`, which sees a new cell object); a new order replaces the row positions, and a row that moved
gets its cells' kept lines with its new row number, not laid out by Rich again. This reaches into DataTable's
private caches (Textual 8.2.8, pinned in scripts/constraints.txt): :func:`supported` says whether this is a
Textual it was tested with and has them, else the caller falls back to ``update_cell``. tests/test_tui_speed.py
checks the result against the store and Textual's own render, and counts what is redrawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, RowKey

_CACHES = ("_data", "_row_label_column_width", "_total_row_height", "_row_locations", "_cell_render_cache",
           "_row_render_cache", "_line_cache",
           "_row_renderable_cache", "_offset_cache", "_ordered_row_cache")  # fmt: skip


TESTED = ("8.2.8",)  # the Textual releases whose DataTable internals the fast path was checked against (its tests)


def supported(table: DataTable[Any]) -> bool:
    """This Textual is one the fast path was tested with, and has the caches it reaches into."""
    return _tested_textual() and all(hasattr(table, name) for name in _CACHES)


def _tested_textual() -> bool:
    """Textual is installed as a tested release, told by its metadata folder beside it (one stat:
    ``importlib.metadata`` would add a tenth of a second to start-up)."""
    import textual

    site = Path(textual.__file__).resolve().parent.parent
    return any((site / f"textual-{release}.dist-info").is_dir() for release in TESTED)


def write(table: DataTable[Any], changed: Mapping[str, Mapping[str, Text]], refresh: bool = True) -> None:
    """Put the new cells (row key → column key → cell) in place and forget only those rows' renders;
    ``refresh=False`` when called while the table renders."""
    rows = {RowKey(subject) for subject in changed}
    for subject, cells in changed.items():
        data = table._data[RowKey(subject)]
        for column, cell in cells.items():
            data[ColumnKey(column)] = cell
    # DataTable's cell cache is not used for body rows (:mod:`.table_lines` draws them), so it needs no pruning.
    _forget(table, rows)
    if refresh:
        table.refresh()  # repaints the visible lines; unchanged rows come from the caches


def reorder(table: DataTable[Any], subjects: Sequence[str]) -> None:
    """Show the rows in this order (the same set of rows). Only the rows' assembled lines are dropped: the cells of
    a row that moved come back from :mod:`.table_lines` with their new row number (they carry it for the mouse)."""
    from textual._two_way_dict import TwoWayDict

    ordered = _rows_by_subject(table, subjects)
    table._row_locations = TwoWayDict({row.key: i for i, row in enumerate(ordered)})
    for name in ("_row_render_cache", "_line_cache", "_row_renderable_cache", "_offset_cache", "_ordered_row_cache"):
        getattr(table, name).clear()  # the rows' assembled lines; their cells are kept (:mod:`.table_lines`)
    # What DataTable's ordered_rows and _y_offsets would work out again, row by row, on the next frame:
    table._ordered_row_cache[(len(ordered), table._update_count)] = ordered
    offsets: Any = (OneLineRows(ordered) if all(row.height == 1 for row in ordered)
                    else [(row.key, y) for row in ordered for y in range(row.height)])  # fmt: skip
    table._offset_cache[table._update_count] = offsets  # (DataTable's annotation says list; it only indexes it)
    table.refresh()


class OneLineRows(Sequence[tuple[RowKey, int]]):
    """DataTable's list of (row key, line in row) per line, for rows of one line each, without building the 1,000
    tuples: DataTable only indexes it (the line a screen line shows), takes its length and clears it."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, y: Any) -> Any:
        if isinstance(y, slice):
            return [(row.key, 0) for row in self._rows[y]]
        return self._rows[y].key, 0

    def clear(self) -> None:
        self._rows = []


_BY_SUBJECT = "_rankinv_rows_by_subject"


def _rows_by_subject(table: DataTable[Any], subjects: Sequence[str]) -> list[Any]:
    """The table's rows in this order, looked up by their key's string (a RowKey hashes in Python: 1,000 of them
    per reorder add up); the map is kept while DataTable's update count says no row was added or removed."""
    kept = getattr(table, _BY_SUBJECT, None)
    if kept is None or kept[0] != (table._update_count, len(table.rows)):
        kept = ((table._update_count, len(table.rows)), {key.value: row for key, row in table.rows.items()})
        setattr(table, _BY_SUBJECT, kept)
    by_subject = kept[1]
    return [by_subject[s] for s in subjects]


def resize(table: DataTable[Any]) -> bool:
    """After rows were added: when every column has a fixed width and every row one line, only the scrollable
    size changes; DataTable would otherwise measure every cell of every new row (13,000 at 1,000 runs) for nothing.
    False when there is something to measure (the caller lets DataTable do it)."""
    if any(c.auto_width for c in table.columns.values()) or any(r.height != 1 or r.label for r in table.rows.values()):
        return False
    width = sum(c.get_render_width(table) for c in table.columns.values()) + table._row_label_column_width
    table.virtual_size = Size(width, table._total_row_height + (table.header_height if table.show_header else 0))
    return True


def _forget(table: DataTable[Any], rows: Iterable[RowKey]) -> None:
    """Drop these rows' assembled lines."""
    wanted = set(rows)
    for line in [k for k in table._row_render_cache.keys() if k[0] in wanted]:  # noqa: SIM118  (LRUCache: no __iter__)
        table._row_render_cache.discard(line)
    table._line_cache.clear()  # keyed by screen line: cheap to rebuild from the row caches
    table._row_renderable_cache.clear()
