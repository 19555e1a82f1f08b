"""Change a DataTable's cells and row order without making it redraw every row.

DataTable's own ``update_cell`` and ``sort`` bump one counter that is part of every render cache key, so one
changed cell re-renders every visible cell of the table. Here a changed cell is written into the table's data and
only its row's assembled lines are dropped from the caches (the cell is drawn again as :class:`Placed` sees a new
cell object); a new order replaces the row positions,
and a row that moved gets its cells' lines back from :class:`Placed` with its new row number, not laid out by Rich
again. This reaches into DataTable's private caches: :func:`supported` says
whether this Textual has them, else the caller falls back to ``update_cell``. tests/test_tui_speed.py checks the
result against the store and counts what is redrawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, RowKey

_CACHES = ("_data", "_row_label_column_width", "_total_row_height", "_row_locations", "_cell_render_cache",
           "_row_render_cache", "_line_cache",
           "_row_renderable_cache", "_offset_cache", "_ordered_row_cache")  # fmt: skip


def supported(table: DataTable[Any]) -> bool:
    return all(hasattr(table, name) for name in _CACHES)


def write(table: DataTable[Any], changed: Mapping[str, Mapping[str, Text]], refresh: bool = True) -> None:
    """Put the new cells (row key → column key → cell) in place and forget only those rows' renders;
    ``refresh=False`` when called while the table renders."""
    rows = {RowKey(subject) for subject in changed}
    for subject, cells in changed.items():
        data = table._data[RowKey(subject)]
        for column, cell in cells.items():
            data[ColumnKey(column)] = cell
    # The cells' old renders may stay in DataTable's cell cache: every body cell is drawn through
    # :meth:`Placed.render`, which never hands out the lines of one cell object for another.
    _forget(table, rows)
    if refresh:
        table.refresh()  # repaints the visible lines; unchanged rows come from the caches


def reorder(table: DataTable[Any], subjects: Sequence[str]) -> None:
    """Show the rows in this order (the same set of rows). Only the rows' assembled lines are dropped: the cells of
    a row that moved come back from :class:`Placed` with their new row number (they carry it for the mouse)."""
    from textual._two_way_dict import TwoWayDict

    ordered = _rows_by_subject(table, subjects)
    table._row_locations = TwoWayDict({row.key: i for i, row in enumerate(ordered)})
    for name in ("_row_render_cache", "_line_cache", "_row_renderable_cache", "_offset_cache", "_ordered_row_cache"):
        getattr(table, name).clear()  # the rows' assembled lines; their cells are kept (:class:`Placed`)
    # What DataTable's ordered_rows and _y_offsets would work out again, row by row, on the next frame:
    table._ordered_row_cache[(len(ordered), table._update_count)] = ordered
    table._offset_cache[table._update_count] = [(row.key, y) for row in ordered for y in range(row.height)]
    table.refresh()


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


SegmentLines = list[list[Segment]]


class Placed:
    """Rendered cells by what they show, wherever their row is. DataTable marks each cell's segments with its row
    number (for the mouse) but caches them by row key, so a row that moved had to be laid out by Rich again, cell
    by cell, and so had every changed cell. Here a cell's lines are kept by the cell object and, for Text cells,
    by everything that decides their look (text, spans, style, justification, overflow; the base style, cursor,
    hover and width): the same cell at another row, or an equal one anywhere (a value another run showed), is
    reused with its row number put in. Every body cell is rendered through :meth:`render`, so a reordered table
    needs none of its cells dropped."""

    def __init__(self, size: int = 10_000):
        self._lines: LRUCache[tuple[Any, ...], tuple[Any, int, SegmentLines]] = LRUCache(size)
        self._looks: LRUCache[tuple[Any, ...], tuple[int, int, SegmentLines]] = LRUCache(size)

    def clear(self) -> None:
        self._lines.clear()
        self._looks.clear()

    def render(self, table: DataTable[Any], fresh: Any, *, row_index: int, column_index: int, base_style: Style,
               width: int, cursor: bool, hover: bool) -> SegmentLines:  # fmt: skip
        """The cell's lines: kept ones (moved to this row if need be), else ``fresh(...)`` (DataTable's render)."""
        row_key = table._row_locations.get_key(row_index)
        column_key = table._column_locations.get_key(column_index)
        if row_key is None or column_key is None:  # not a body cell after all: DataTable knows what to draw
            return fresh(row_index, column_index, base_style, width, cursor, hover)  # type: ignore[no-any-return]
        key = (row_key, column_key, base_style, cursor, hover, table._show_hover_cursor, table._update_count,
               table._pseudo_class_state)  # fmt: skip  (DataTable's own cell key)
        cell = table._data[row_key][column_key]
        kept = self._lines.get((*key, width))
        if kept is not None and kept[0] is cell:
            if kept[1] == row_index:
                return kept[2]
            lines = _at_row(kept[2], row_index, column_index)
        else:
            look = _look(table, cell, row_key, (row_index, column_index), (*key[2:], width))
            alike = None if look is None else self._looks.get(look)
            if alike is not None:
                same = alike[:2] == (row_index, column_index)
                lines = alike[2] if same else _at_row(alike[2], row_index, column_index)
            else:
                table._cell_render_cache.discard(key)  # it may hold this cell as drawn at another row
                lines = fresh(row_index, column_index, base_style, width, cursor, hover)
                if look is not None:
                    self._looks[look] = (row_index, column_index, lines)
        table._cell_render_cache[key] = lines  # (what DataTable would hold)
        self._lines[(*key, width)] = (cell, row_index, lines)
        return lines


def _look(table: DataTable[Any], cell: object, row_key: RowKey, where: tuple[int, int],
          rest: tuple[Any, ...]) -> tuple[Any, ...] | None:  # fmt: skip
    """Everything a Text cell's rendered lines depend on but its row number; None for other cells (and an empty
    Text, which DataTable swaps for its own)."""
    if type(cell) is not Text or not cell:
        return None
    row = table.rows[row_key]
    row_index, column_index = where
    fixed = row_index < table.fixed_rows or column_index < table.fixed_columns
    return (cell.plain, tuple(cell.spans), cell.style, cell.justify, cell.overflow, cell.no_wrap, cell.end,
            cell.tab_size, row.height, row.auto_height, fixed, column_index, *rest)  # fmt: skip

def _at_row(lines: SegmentLines, row_index: int, column_index: int) -> SegmentLines:
    """The lines with the mouse meta of this row, as DataTable's own render adds it (to the cell's base style,
    which every segment carries)."""
    meta = Style.from_meta({"row": row_index, "column": column_index})
    return [[Segment(s.text, s.style + meta if s.style is not None else meta, s.control) for s in line]
            for line in lines]  # fmt: skip
