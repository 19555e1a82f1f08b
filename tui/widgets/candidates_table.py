"""The ranking: one row per candidate, columns that collapse on narrow terminals, sort, filter and marks."""

from __future__ import annotations

from typing import ClassVar

from rankinv.tui import columns as cols
from rankinv.tui.poller import RowData
from rankinv.tui.thresholds import Thresholds
from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.events import Key, Resize
from textual.reactive import reactive
from textual.widgets import DataTable

from rankinv.store import Candidate


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
    shown: tuple[Candidate, ...] = ()

    def __init__(
        self, thresholds: Thresholds | None = None, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id, classes=classes)
        self.thresholds = thresholds or Thresholds()
        self._rows: dict[str, tuple[Text, ...]] = {}
        self._cache: dict[str, tuple[object, tuple[Text, ...]]] = {}

    def on_mount(self) -> None:
        self._set_columns(cols.fitting(self.size.width or 80))

    @on(Resize)
    def _refit(self, event: Resize) -> None:
        fitted = cols.fitting(event.size.width)
        if fitted != self.columns_shown:
            self._set_columns(fitted)

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
        self._rows, self._cache = {}, {}
        for column in visible:
            self.add_column(self._label(column), width=column.cells, key=column.key)
        self._fill()

    def _fill(self) -> None:
        """Show the candidates, keeping the cursor on the same one.

        A daemon cycle usually changes values, not which rows exist: then only the changed cells are replaced
        and the rows re-ordered, which stays cheap at 1,000 runs. New or vanished rows rebuild the table.
        """
        current = self.selected
        ordered = cols.ordered(cols.matching(self.candidates, self.filter_text), self.sort_key, self.sort_reverse)
        rows = {c.subject: self._cells(c) for c in ordered}
        if rows.keys() == self._rows.keys() and self.row_count == len(rows):
            self._patch(rows)
        else:
            self.clear()
            for subject, cells in rows.items():
                self.add_row(*cells, key=subject)
        self._rows, self.shown = rows, tuple(ordered)
        if current is not None:
            index = next((i for i, c in enumerate(self.shown) if c.subject == current.subject), 0)
            self.move_cursor(row=index, animate=False)

    def _patch(self, rows: dict[str, tuple[Text, ...]]) -> None:
        for subject, cells in rows.items():
            for column, new, old in zip(self.columns_shown, cells, self._rows[subject], strict=True):
                if new != old:
                    self.update_cell(subject, column.key, new)
        if list(rows) != list(self._rows):
            # The first column (the run label) is unique per candidate: order the rows by it.
            position = {cells[0].plain: i for i, cells in enumerate(rows.values())}
            self.sort(self.columns_shown[0].key, key=lambda label: position[label.plain])

    def _cells(self, candidate: Candidate) -> tuple[Text, ...]:
        """The row's cells, reused while the candidate is unchanged (most rows, most cycles)."""
        ctx = cols.RowContext(
            self.row_data.curves.get(candidate.run, {}) if candidate.checkpoint is None else {},
            self.row_data.kills.get(candidate.run) if candidate.checkpoint is None else None,
            self.thresholds,
        )
        key = (candidate, ctx, candidate.subject in self.marked)
        cached = self._cache.get(candidate.subject)
        if cached is not None and cached[0] == key:
            return cached[1]
        cells = tuple(self._cell(column, candidate, ctx) for column in self.columns_shown)
        if key[2]:
            cells = (Text("◆ ", style="bold magenta") + cells[0], *cells[1:])
        self._cache[candidate.subject] = (key, cells)
        return cells

    @staticmethod
    def _cell(column: cols.Column, candidate: Candidate, ctx: cols.RowContext) -> Text:
        """Cells are ready-made Rich Text: a str cell would be parsed as markup on every rebuild."""
        value = column.render(candidate, ctx)
        text = value if isinstance(value, Text) else Text(value)
        text.no_wrap, text.overflow = True, "ellipsis"
        if column.right:
            text.justify = "right"
        return text
