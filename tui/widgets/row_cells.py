"""The cells of one candidate's row, each drawn again only when what it shows has changed.

A daemon cycle over 1,000 runs changes a few numbers per run (the prediction, the live entropy), not its name,
kind, verdict or job; each cell is cached with its inputs (:meth:`~rankinv.tui.columns.Column.inputs`) and the
same :class:`~rich.text.Text` object is returned while they are equal, so the table can tell a changed cell by
identity.
"""

from __future__ import annotations

from collections.abc import Sequence

from rankinv.tui import columns as cols
from rich.text import Text

from rankinv.store import Candidate

MARK = "◆ "


class RowCells:
    def __init__(self) -> None:
        self._cells: dict[tuple[str, str], tuple[tuple[object, ...], Text]] = {}

    def clear(self) -> None:
        self._cells.clear()

    def row(self, columns: Sequence[cols.Column], c: Candidate, ctx: cols.RowContext, marked: bool) -> tuple[Text, ...]:
        return tuple(self._cell(i, column, c, ctx, marked) for i, column in enumerate(columns))

    def _cell(self, index: int, column: cols.Column, c: Candidate, ctx: cols.RowContext, marked: bool) -> Text:
        inputs = (*column.inputs(c, ctx), marked) if index == 0 else column.inputs(c, ctx)
        where = (c.subject, column.key)
        hit = self._cells.get(where)
        if hit is not None and hit[0] == inputs:
            return hit[1]
        cell = draw(column, c, ctx)
        if index == 0 and marked:
            cell = Text(MARK, style="bold magenta") + cell
        self._cells[where] = (inputs, cell)
        return cell


def draw(column: cols.Column, candidate: Candidate, ctx: cols.RowContext) -> Text:
    """Cells are ready-made Rich Text: a str cell would be parsed as markup on every render."""
    value = column.render(candidate, ctx)
    text = value if isinstance(value, Text) else Text(value)
    text.no_wrap, text.overflow = True, "ellipsis"
    if column.right:
        text.justify = "right"
    return text
