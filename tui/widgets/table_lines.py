"""A DataTable body row's line, assembled from cells laid out once and put at the row's place.

DataTable lays out every cell it draws with Rich (``Styled(Padding(cell))``, some 60 µs a cell) and caches the
lines by row key with the cell's row number in the segments' meta (where a click lands), so a row that moved, or a
changed cell, is laid out again. Here a cell is laid out without the meta, kept by the cell object and by its
look (text, spans, style, justification; the width and styles around it), and the row's meta is added to the
kept segments (the Style Rich's ``style + meta`` builds, as DataTable's base style carries it). A one-line cell of plain
text (no spans, no style, fitting its width, one cell per character) is laid out by hand: one segment of the
padded text in the cell's style, what Rich's layout simplifies to. Which rows can be drawn so is checked by
:func:`drawable` (one-line rows, a row cursor, no fixed rows or columns, no row labels); others are DataTable's.
tests/test_tui_speed.py compares every line, segment by segment, with Textual's own render.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.renderables.styled import Styled
from textual.widgets import DataTable
from textual.widgets._data_table import RowKey

Segments = list[Segment]


class DrawnRow(list[Segments]):
    """A row's cells' segments as :meth:`RowLines.row` drew them: no two neighbours share a style (a cell's own
    are simplified; neighbouring cells differ in their meta), ``length`` cells wide."""

    length = 0


LIMIT = 20_000  # kept cells before the caches start again (a few MB at most)
_SLOTS = ("_ansi", "_style_definition", "_color", "_bgcolor", "_attributes", "_set_attributes", "_link", "_link_id",
          "_null", "_meta", "_hash")  # fmt: skip
_DIRECT = set(_SLOTS) <= set(getattr(Style, "__slots__", ()))  # this Rich's Style is built as :func:`with_meta` assumes


def with_meta(style: Style, meta: Style) -> Style:
    """``style + meta`` for a style without meta or link and a meta-only style (``Style.from_meta``): the same
    Style Rich's sum builds (colours and attributes of one, the meta of the other), without its cache's lookups
    (a placed cell's segments are new pairs each time: Rich's sum missed its cache for nearly all of them)."""
    if not _DIRECT or style._meta is not None or style._link:
        return style + meta
    new: Style = Style.__new__(Style)
    new._ansi = None
    new._style_definition = None
    new._color, new._bgcolor = style._color, style._bgcolor
    new._attributes, new._set_attributes = style._attributes, style._set_attributes
    new._link, new._link_id = None, meta._link_id
    new._null = False
    new._meta = meta._meta
    new._hash = None
    return new


def drawable(table: DataTable[Any]) -> bool:
    """The table's body rows are of the kind :class:`RowLines` draws (checked for each row it draws)."""
    return (table.cursor_type == "row" and not table.fixed_columns and not table.fixed_rows
            and not (table._labelled_row_exists and table.show_row_labels))  # fmt: skip


def plain(cell: Text, width: int, padding: int, style: Style) -> Segments | None:
    """The cell's line without Rich's layout, when it is plain text that fits; None when Rich must lay it out."""
    if cell._spans or cell.style or not cell.no_wrap or cell.justify not in ("left", "right", "default", None):
        return None
    text, room = cell.plain, width - 2 * padding
    if room < 0 or len(text) > room or not (text.isprintable() and cell_len(text) == len(text)):
        return None
    pad = " " * padding  # (right-justified text loses its trailing spaces first, as Rich's justify does)
    body = text.rstrip().rjust(room) if cell.justify == "right" else text.ljust(room)
    return [Segment(pad + body + pad, style)]


class RowLines:
    """Body rows' lines for one table; :meth:`clear` when the columns change."""

    def __init__(self) -> None:
        self._by_cell: dict[tuple[Any, ...], list[Any]] = {}  # (id, width, styles) → [cell, free lines, where, placed]
        self._by_look: dict[tuple[Any, ...], Segments] = {}  # what a Text cell looks like → its free lines
        self._metas: dict[tuple[int, int], Style] = {}  # (row, column) → the meta DataTable gives that cell
        self.numbers: dict[tuple[Any, ...], int] = {}  # a cell's (width, pre, post, padding) → a number for keys

    def clear(self) -> None:
        self._by_cell.clear()
        self._by_look.clear()
        self._metas.clear()
        self.numbers.clear()

    def row(self, table: DataTable[Any], row_key: RowKey, row_index: int, base_style: Style, *, cursor: int,
            hover: int) -> DrawnRow | None:  # fmt: skip
        """The row's cells' segments and the fill to the widget's edge, as DataTable's ``_render_line_in_row``
        makes its scrollable part (its fixed part is empty for these tables); None if a cell is not a Text or the
        row's style is empty (DataTable draws those)."""
        frame = _frame(table, self.numbers)
        row_style = table._get_row_style(row_index, base_style)
        styles = _styles(table, frame, row_style, (cursor == row_index, hover == row_index, hover == (row_index or 0)))
        if styles is None:
            return None
        pre, post, fill = styles
        data = table._data[row_key]
        cells = DrawnRow()
        for column_index, (key, look) in enumerate(zip(frame.keys, frame.looks[pre, post], strict=True)):
            cell = data.get(key)
            if type(cell) is not Text:
                return None
            cells.append(self._placed(table, cell, look, row_index, column_index))
        meta = self._metas.get((row_index, -1))
        if meta is None:
            meta = self._metas[row_index, -1] = Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        cells.append([Segment(frame.fill, with_meta(fill, meta))])
        cells.length = frame.length
        return cells

    def _placed(self, table: DataTable[Any], cell: Text, look: tuple[Any, ...], row_index: int,
                column_index: int) -> Segments:  # fmt: skip
        """The cell's segments at this row and column: kept, or its kept free line with this place's meta."""
        key = (id(cell), look[-1])  # (the look's number stands for its styles and width: no Style hashed per cell)
        kept = self._by_cell.get(key)
        if kept is None or kept[0] is not cell:
            if len(self._by_cell) > LIMIT:
                self._by_cell.clear()
                self._by_look.clear()
            kept = self._by_cell[key] = [cell, self._free(table, cell, look[:-1]), None, None]
        where = (row_index, column_index)
        if kept[2] != where:
            meta = self._metas.get(where)
            if meta is None:
                meta = self._metas[where] = Style.from_meta({"row": row_index, "column": column_index})
            kept[2], kept[3] = where, [Segment(t, with_meta(s, meta) if s is not None else s, c) for t, s, c in kept[1]]
        placed: Segments = kept[3]
        return placed

    def _free(self, table: DataTable[Any], cell: Text, look: tuple[Any, ...]) -> Segments:
        """The cell's line without the row meta: by hand, kept from an equal cell, or laid out by Rich."""
        width, pre, post, padding = look
        style = pre + post
        quick = plain(cell, width, padding, style)
        if quick is not None:
            return quick
        alike = (cell.plain, tuple(cell._spans), cell.style, cell.justify, cell.overflow, cell.no_wrap, cell.end,
                 cell.tab_size, *look)  # fmt: skip
        free = self._by_look.get(alike)
        if free is None:
            options = table.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
            lines = table.app.console.render_lines(Styled(Padding(cell, (0, padding)), pre_style=pre,
                                                          post_style=post), options)  # fmt: skip
            free = self._by_look[alike] = list(Segment.simplify(lines[0]))
        return free


class _Frame:
    """What every row of one frame shares: the columns' keys and widths, the fill's width, the cursor settings, and
    each row style's cell styles (``looks``: per (pre, post) styles, each column's ``(width, pre, post, padding)``
    and that look's number in ``numbers``, kept by :class:`RowLines` across frames)."""

    def __init__(self, table: DataTable[Any], numbers: dict[tuple[Any, ...], int]) -> None:
        self.numbers = numbers
        columns = table.ordered_columns
        self.keys = [column.key for column in columns]
        self.widths = [column.get_render_width(table) for column in columns]
        self.padding = table.cell_padding
        used = sum(self.widths) + table._row_label_column_width
        self.fill = " " * max(0, table.size.width - used)
        self.length = used + len(self.fill)
        self.cursor = (table.show_cursor, table._show_hover_cursor, table.cursor_foreground_priority == "css",
                       table.cursor_background_priority == "css")  # fmt: skip
        self.styles: dict[tuple[Any, ...], tuple[Style, Style, Style] | None] = {}
        self.looks: dict[tuple[Style, Style], list[tuple[Any, ...]]] = {}


def _frame(table: DataTable[Any], numbers: dict[tuple[Any, ...], int]) -> _Frame:
    """This frame's :class:`_Frame`, kept in the table's per-frame dict while it renders (else worked out now)."""
    kept: dict[object, Any] | None = getattr(table, "_frame", None)
    if kept is None:
        return _Frame(table, numbers)
    frame: _Frame | None = kept.get("lines")
    if frame is None:
        frame = kept["lines"] = _Frame(table, numbers)
    return frame


def _styles(table: DataTable[Any], frame: _Frame, row_style: Style,
            on: tuple[bool, bool, bool]) -> tuple[Style, Style, Style] | None:  # fmt: skip
    """A row's cells' pre- and post-style and its fill's style (without the row's meta), as DataTable works them
    out for a row under the cursor or not, the hover or not, and its fill under the hover or not (``on``); None
    when the pre-style is empty (Rich then styles a cell differently: DataTable draws the row)."""
    key = (row_style, *on)
    cursor, hover, fill_hover = on
    if key in frame.styles:
        return frame.styles[key]
    show, show_hover, fg_css, bg_css = frame.cursor
    component, post = table._get_styles_to_render_cell(False, False, False, hover, cursor, show, show_hover, fg_css,
                                                       bg_css)  # fmt: skip
    pre = row_style + component
    fill, _ = table._get_styles_to_render_cell(False, False, False, fill_hover, cursor, show, show_hover, False, False)
    styles = frame.styles[key] = (pre, post, row_style + fill) if pre else None
    if pre and (pre, post) not in frame.looks:
        looks = [(width, pre, post, frame.padding) for width in frame.widths]
        frame.looks[pre, post] = [(*look, frame.numbers.setdefault(look, len(frame.numbers))) for look in looks]
    return styles
