"""The ranking: one row per candidate, columns that collapse on narrow terminals, sort, filter and marks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any, ClassVar

from rankinv.tui import columns as cols
from rankinv.tui.poller import RowData
from rankinv.tui.thresholds import Thresholds
from rankinv.tui.widgets import table_cells, table_lines
from rankinv.tui.widgets.row_cells import RowCells
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.events import Key, Resize
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import Column
from textual.widgets._data_table import RowKey as DTRowKey

from rankinv.store import Candidate

RowInputs = tuple[Candidate, cols.RowContext, bool]
MARGIN = 2  # rows drawn beyond the screen's edges (a row scrolled into view is drawn as it is rendered)


class CandidatesTable(DataTable[Text]):
    """Set ``candidates`` and ``row_data`` (from a snapshot), ``sort_key``/``sort_reverse``, ``filter_text`` and
    ``marked`` (subjects marked with space, overlaid in the charts); the rows follow."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("g,home", "first", "first", show=False),
        Binding("G,end", "last", "last", show=False),
        Binding("ctrl+d", "half_page(1)", "half page down", show=False),
        Binding("ctrl+u", "half_page(-1)", "half page up", show=False),
        Binding("space", "mark", "mark"),
    ]

    candidates: reactive[tuple[Candidate, ...]] = reactive((), init=False)
    row_data: reactive[RowData] = reactive(RowData, init=False)
    marked: reactive[frozenset[str]] = reactive(frozenset, init=False)
    sort_key: reactive[str | None] = reactive(None, init=False)
    sort_reverse: reactive[bool] = reactive(False, init=False)
    filter_text: reactive[str] = reactive("", init=False)

    columns_shown: tuple[cols.Column, ...] = ()
    _frame: dict[object, Any] | None = None  # styles (and the columns) worked out while a frame is drawn
    shown: tuple[Candidate, ...] = ()

    def __init__(
        self, thresholds: Thresholds | None = None, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id, classes=classes)
        self.thresholds = thresholds or Thresholds()
        self._rows: dict[str, Candidate] = {}  # each row's candidate, in order
        self._order: list[str] = []  # (the same, as a list)
        self._source: tuple[Mapping[str, Any], Mapping[str, Any], frozenset[str], cols.RowContext] = (
            {}, {}, frozenset(), cols.RowContext())  # fmt: skip
        self._drawn: dict[str, tuple[Text, ...]] = {}  # the cells in the table's data
        self._pending: dict[str, Candidate] = {}  # rows whose cells may have changed, not drawn yet (off screen)
        self._cells = RowCells()
        self._lines = table_lines.RowLines()
        self._fast = table_cells.supported(self)  # this Textual has the caches the fast path reaches into
        self.redrawn: set[str] = set()  # the rows whose cells were drawn since the last update

    def on_mount(self) -> None:
        self._set_columns(cols.fitting(self.size.width or 80))

    @on(Resize)
    def _refit(self, event: Resize) -> None:
        fitted = cols.fitting(event.size.width)
        if fitted != self.columns_shown:
            self._set_columns(fitted)

    def show(self, candidates: tuple[Candidate, ...], row_data: RowData) -> None:
        """New candidates and row data in one update (setting both reactives would fill the table twice)."""
        self.set_reactive(CandidatesTable.candidates, candidates)
        self.set_reactive(CandidatesTable.row_data, row_data)
        self._fill()

    def watch_candidates(self) -> None:
        self._fill()

    def watch_row_data(self) -> None:
        self._fill()

    def watch_marked(self) -> None:
        self._fill()

    def watch_sort_key(self) -> None:
        self._set_columns(self.columns_shown)

    def watch_sort_reverse(self) -> None:
        self._set_columns(self.columns_shown)

    def watch_filter_text(self) -> None:
        self._fill()

    @property
    def selected(self) -> Candidate | None:
        if not self.shown or self.cursor_row < 0 or self.cursor_row >= len(self.shown):
            return None
        return self.shown[self.cursor_row]

    def cycle_sort(self, step: int = 1) -> None:
        """Next (or previous) sortable column; numbers where more is better start high."""
        self.sort_key = cols.next_sort(self.sort_key, self.columns_shown, step)
        self.sort_reverse = self.sort_key in ("predicted", "headroom", "confidence")

    def reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def toggle_mark(self) -> None:
        c = self.selected
        if c is not None:
            self.marked = self.marked ^ {c.subject}

    def on_key(self, event: Key) -> None:
        """Typing ``/bad`` fast queues every key for the table before the filter box can take the focus: open the
        box at once on ``/`` (synchronously, in key order), and pass on the keys that arrive after it."""
        focused = self.screen.focused
        if event.key == "slash" and hasattr(self.screen, "action_filter"):
            event.stop()
            event.prevent_default()
            self.screen.action_filter()
        elif focused is not None and focused is not self and event.is_printable:
            event.stop()
            event.prevent_default()
            focused.post_message(Key(event.key, event.character))

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1))

    def action_half_page(self, direction: int) -> None:
        self.page(direction / 2)

    def action_mark(self) -> None:
        self.toggle_mark()

    def page(self, fraction: float) -> None:
        """Move the cursor by a fraction of the visible rows (ctrl-d / ctrl-u move half a page)."""
        rows = max(1, round((self.scrollable_content_region.height - 1) * abs(fraction)))
        target = self.cursor_row + (rows if fraction > 0 else -rows)
        self.move_cursor(row=max(0, min(self.row_count - 1, target)))

    @on(DataTable.HeaderSelected)
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        if cols.BY_KEY[key].sort_value is None:
            return
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False

    def _label(self, column: cols.Column) -> Text:
        arrow = ("▼" if self.sort_reverse else "▲") if column.key == self.sort_key else ""
        return Text(column.label + arrow, justify="right" if column.right else "left")

    def _set_columns(self, visible: tuple[cols.Column, ...]) -> None:
        self.columns_shown = visible
        self.clear(columns=True)
        self._rows, self._order, self._drawn, self._pending = {}, [], {}, {}
        self._cells.clear()
        self._lines.clear()
        for column in visible:
            self.add_column(self._label(column), width=column.cells, key=column.key)
        self._fill()

    def _fill(self) -> None:
        """Show the candidates, keeping the cursor on the same one.

        A daemon cycle usually changes values, not which rows exist: then a row is drawn when it is on
        screen (at once, or when it scrolls into view), only its changed cells are written, and only those rows
        and the rows that moved are rendered again (:mod:`.table_cells`). New or vanished rows rebuild the table.
        """
        current = self.selected
        ordered = cols.ordered(cols.matching(self.candidates, self.filter_text), self.sort_key, self.sort_reverse)
        rows = {c.subject: c for c in ordered}
        order = list(rows)
        # What a row is drawn from besides its candidate (reactives: read once); a row's inputs are put together
        # only when it is drawn (:meth:`_key`), not for each of 1,000 rows per update.
        self._source = (self.row_data.curves, self.row_data.kills, self.marked,
                        cols.RowContext({}, None, self.thresholds))  # fmt: skip
        self.redrawn = set()
        rebuilt = not (rows.keys() == self._rows.keys() and self.row_count == len(rows))
        if not rebuilt:
            # Every row is pending, unchanged or not: comparing 1,000 candidates field by field costs more than
            # comparing the cells of the few dozen rows drawn (the cells compare their inputs, :class:`RowCells`).
            self._pending = dict(rows)
            if order != self._order:
                self._reorder(order)
        else:
            self.clear()
            blank = tuple(Text() for _ in self.columns_shown)
            for subject in rows:
                self.add_row(*blank, key=subject)
            self._drawn, self._pending = dict.fromkeys(rows, blank), dict(rows)
        self._rows, self._order, self.shown = rows, order, tuple(ordered)
        if current is not None:  # before drawing: the rows in view are those around the cursor's new place
            index = order.index(current.subject) if current.subject in rows else 0
            if index != self.cursor_row or rebuilt:  # (a cursor that moves is scrolled into view by DataTable's
                # watcher: asking move_cursor to scroll too worked the row's place out twice)
                self.move_cursor(row=index, animate=False, scroll=index == self.cursor_row)
        # (without the fast path every row is drawn now; only its changed cells are written)
        self._draw(self._in_view() if self._fast else order)

    def _key(self, c: Candidate) -> RowInputs:
        """What the row is drawn from: the candidate, its curves and kill (a shared empty context when it has
        neither), and whether it is marked."""
        curves, kills, marked, empty = self._source
        if c.checkpoint is not None:
            return c, empty, c.subject in marked
        curve, kill = curves.get(c.run), kills.get(c.run)
        ctx = empty if not curve and kill is None else cols.RowContext(curve or {}, kill, self.thresholds)
        return c, ctx, c.subject in marked

    def _in_view(self) -> list[str]:
        first = max(0, int(self.scroll_y) - MARGIN)
        return [c.subject for c in self.shown[first : int(self.scroll_y) + self.size.height + MARGIN]]

    def runs_in_view(self) -> list[str]:
        """The GRPO runs of the rows on screen (and a margin): their sparklines need their curves."""
        return [self._rows[s].run for s in self._in_view() if s in self._rows and self._rows[s].checkpoint is None]

    def _draw(self, subjects: list[str], refresh: bool = True) -> None:
        """Draw these rows' pending cells; only the cells that changed are written."""
        changed: dict[str, dict[str, Text]] = {}
        for subject in subjects:
            candidate = self._pending.pop(subject, None)
            if candidate is None:
                continue
            cells = self._cells.row(self.columns_shown, *self._key(candidate))
            pairs = zip(self.columns_shown, cells, self._drawn[subject], strict=True)
            self._drawn[subject] = cells
            diff = {column.key: new for column, new, was in pairs if new is not was}
            if diff:
                changed[subject] = diff
        self.redrawn |= changed.keys()
        if changed and self._fast:
            table_cells.write(self, changed, refresh=refresh)
        else:
            for subject, diff in changed.items():
                for column_key, cell in diff.items():
                    self.update_cell(subject, column_key, cell)

    def _reorder(self, subjects: list[str]) -> None:
        if self._fast:
            table_cells.reorder(self, subjects)
        else:  # every row is drawn in this mode, and the run label is unique per row: order by it
            position = {self._drawn[s][0].plain: i for i, s in enumerate(subjects)}
            self.sort(self.columns_shown[0].key, key=lambda label: position[label.plain])

    def _update_dimensions(self, new_rows: Iterable[DTRowKey]) -> None:
        if not (self._fast and table_cells.resize(self)):
            super()._update_dimensions(new_rows)

    def _render_line_in_row(self, row_key: DTRowKey, line_no: int, base_style: Style, cursor_location: Coordinate,
                            hover_location: Coordinate) -> tuple[list[list[Segment]], list[list[Segment]]]:  # fmt: skip
        """A body row's line from cells laid out once (:mod:`.table_lines`), kept under DataTable's own key."""
        key = (row_key, line_no, base_style, cursor_location, hover_location, self.cursor_type, self.show_cursor,
               self._show_hover_cursor, self._update_count, self._pseudo_class_state)  # fmt: skip
        kept: tuple[list[list[Segment]], list[list[Segment]]] | None = self._row_render_cache.get(key)
        if kept is not None:
            return kept
        index = self._row_locations.get(row_key)
        drawn = None
        if self._fast and index is not None and line_no == 0 and table_lines.drawable(self) and \
                self.rows[row_key].height == 1:  # fmt: skip
            drawn = self._lines.row(self, row_key, index, base_style, cursor=cursor_location.row,
                                    hover=hover_location.row)
        if drawn is None:
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
        pair: tuple[list[list[Segment]], list[list[Segment]]] = ([], drawn)
        self._row_render_cache[key] = pair
        return pair

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """A body row's line as DataTable makes it, in one step when the row was drawn by :mod:`.table_lines` and
        fits the widget unscrolled: its segments need no crop, no padding and no simplifying, one Strip (DataTable
        builds three, each with its seven caches)."""
        width = self.size.width
        try:
            row_key, line = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        key = (y, x1, x2, width, self.cursor_coordinate, self.hover_coordinate, base_style, self.cursor_type,
               self._show_hover_cursor, self._update_count, self._pseudo_class_state)  # fmt: skip
        kept: Strip | None = self._line_cache.get(key)
        if kept is not None:
            return kept
        if self._fast and row_key is not self._header_row_key and (x1, x2) == (0, width):
            fixed, scrollable = self._render_line_in_row(row_key, line, base_style, self.cursor_coordinate,
                                                         self.hover_coordinate)  # fmt: skip
            if not fixed and type(scrollable) is table_lines.DrawnRow and scrollable.length == width:
                strip = self._line_cache[key] = Strip(list(chain.from_iterable(scrollable)), width)
                return strip
        return super()._render_line(y, x1, x2, base_style)

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._pending:  # rows that scrolled into view since they changed
            self._draw(self._in_view(), refresh=False)
        # DataTable works out the same styles (from its CSS and its ancestors') and its column list again for every
        # line; neither can change while a frame is drawn, so within one each is worked out once.
        self._frame = {}
        try:
            lines: list[Strip] = super().render_lines(crop)
        finally:
            self._frame = None
        return lines

    @property
    def rich_style(self) -> Style:
        if self._frame is None:
            return super().rich_style
        style: Style | None = self._frame.get("self")
        if style is None:
            style = self._frame["self"] = super().rich_style
        return style

    @property
    def ordered_columns(self) -> list[Column]:
        if self._frame is None:
            return super().ordered_columns
        columns: list[Column] | None = self._frame.get("columns")
        if columns is None:
            columns = self._frame["columns"] = super().ordered_columns
        return columns

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        if self._frame is None:
            return super()._get_row_style(row_index, base_style)
        # (the cases DataTable tells apart: header, fixed rows, odd and even stripes, else the base style)
        kind = -1 if row_index == -1 else -2 if row_index < self.fixed_rows else row_index % 2
        key = ("row", kind, self.zebra_stripes, base_style)
        style: Style | None = self._frame.get(key)
        if style is None:
            style = self._frame[key] = super()._get_row_style(row_index, base_style)
        return style

    def cells_of(self, subject: str) -> list[Text]:
        """The row's cells as the screen shows (or, scrolled to, will show) them: drawn first if it changed off
        screen. DataTable's own ``get_row`` returns what is drawn so far."""
        self._draw([subject])
        return list(self.get_row(subject))
