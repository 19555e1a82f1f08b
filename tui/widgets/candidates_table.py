"""The ranking: one row per candidate, columns that collapse on narrow terminals, sort and filter."""

from __future__ import annotations

from rankinv.tui import columns as cols
from rich.text import Text
from textual import on
from textual.events import Resize
from textual.reactive import reactive
from textual.widgets import DataTable

from rankinv.store import Candidate


class CandidatesTable(DataTable[Text]):
    """Set ``candidates`` (from a snapshot), ``sort_key``/``sort_reverse`` and ``filter_text``; the rows follow."""

    candidates: reactive[tuple[Candidate, ...]] = reactive((), init=False)
    sort_key: reactive[str | None] = reactive(None, init=False)
    sort_reverse: reactive[bool] = reactive(False, init=False)
    filter_text: reactive[str] = reactive("", init=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id, classes=classes)
        self.columns_shown: tuple[cols.Column, ...] = ()
        self.shown: tuple[Candidate, ...] = ()
        self._rows: dict[str, tuple[Text, ...]] = {}
        self._cache: dict[str, tuple[Candidate, tuple[Text, ...]]] = {}

    def on_mount(self) -> None:
        self._set_columns(cols.fitting(self.size.width or 80))

    @on(Resize)
    def _refit(self, event: Resize) -> None:
        fitted = cols.fitting(event.size.width)
        if fitted != self.columns_shown:
            self._set_columns(fitted)

    def watch_candidates(self) -> None:
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

    def cycle_sort(self) -> None:
        self.sort_key = cols.next_sort(self.sort_key, self.columns_shown)
        self.sort_reverse = self.sort_key in ("predicted", "headroom")

    @on(DataTable.HeaderSelected)
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
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
            self.add_column(self._label(column), width=column.width, key=column.key)
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
        cached = self._cache.get(candidate.subject)
        if cached is not None and cached[0] == candidate:
            return cached[1]
        cells = tuple(self._cell(column, candidate) for column in self.columns_shown)
        self._cache[candidate.subject] = (candidate, cells)
        return cells

    @staticmethod
    def _cell(column: cols.Column, candidate: Candidate) -> Text:
        """Cells are ready-made Rich Text: a str cell would be parsed as markup on every rebuild."""
        value = column.render(candidate)
        text = value if isinstance(value, Text) else Text(value)
        text.no_wrap, text.overflow = True, "ellipsis"
        if column.right:
            text.justify = "right"
        return text
