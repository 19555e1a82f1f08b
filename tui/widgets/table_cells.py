"""Change a DataTable's cells and row order without making it redraw every row.

DataTable's own ``update_cell`` and ``sort`` bump one counter that is part of every render cache key, so one
changed cell re-renders every visible cell of the table. Here a changed cell is written into the table's data and
only that cell (and its row's assembled lines) is dropped from the caches; a new order replaces the row positions
and re-renders only the rows that moved. This reaches into DataTable's private caches: :func:`supported` says
whether this Textual has them, else the caller falls back to ``update_cell``. tests/test_tui_speed.py checks the
result against the store and counts what is redrawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.text import Text
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
    _forget(table, rows, {(RowKey(s), ColumnKey(c)) for s, cells in changed.items() for c in cells})
    if refresh:
        table.refresh()  # repaints the visible lines; unchanged rows come from the caches


def reorder(table: DataTable[Any], subjects: Sequence[str]) -> None:
    """Show the rows in this order (the same set of rows). A row that moved is rendered again (its cells carry
    their row number for the mouse); a row that kept its place keeps its cached render."""
    from textual._two_way_dict import TwoWayDict

    old = table._row_locations
    table._row_locations = TwoWayDict({RowKey(s): i for i, s in enumerate(subjects)})
    _forget(table, [RowKey(s) for i, s in enumerate(subjects) if old.get(RowKey(s)) != i])
    for name in ("_line_cache", "_row_renderable_cache", "_offset_cache", "_ordered_row_cache"):
        getattr(table, name).clear()
    table.refresh()


def resize(table: DataTable[Any]) -> bool:
    """After rows were added: when every column has a fixed width and every row one line, only the scrollable
    size changes; DataTable would otherwise measure every cell of every new row (13,000 at 1,000 runs) for nothing.
    False when there is something to measure (the caller lets DataTable do it)."""
    if any(c.auto_width for c in table.columns.values()) or any(r.height != 1 or r.label for r in table.rows.values()):
        return False
    width = sum(c.get_render_width(table) for c in table.columns.values()) + table._row_label_column_width
    table.virtual_size = Size(width, table._total_row_height + (table.header_height if table.show_header else 0))
    return True


def _forget(table: DataTable[Any], rows: Iterable[RowKey], cells: set[tuple[RowKey, ColumnKey]] | None = None,
            ) -> None:  # fmt: skip
    """Drop these rows' rendered lines, and their rendered cells (only ``cells`` of them, when given)."""
    wanted = set(rows)
    # LRUCache has no __iter__, hence keys().
    keys = table._cell_render_cache.keys()
    stale = [k for k in keys if k[:2] in cells] if cells is not None else [k for k in keys if k[0] in wanted]
    for cell in stale:
        table._cell_render_cache.discard(cell)
    for line in [k for k in table._row_render_cache.keys() if k[0] in wanted]:  # noqa: SIM118
        table._row_render_cache.discard(line)
    table._line_cache.clear()  # keyed by screen line: cheap to rebuild from the row caches
    table._row_renderable_cache.clear()
