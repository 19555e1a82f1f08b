"""A large Rich table printed without Rich laying out every cell: the same characters, at a fraction of the cost.

Rich measures, pads and wraps each of 10,000 rows × 14 cells through its renderables (seconds). When the output
carries no styles (not a colour terminal) and every cell fits on one line at its column's natural width, the
table Rich would print is fixed by the widths alone: Rich itself renders the frame (title, header, borders)
from a table holding the header and the widest cell of each column, and the body rows are joined here with the
same padding and rules. Otherwise the caller prints the Rich table as before. Tests compare both outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MIN_ROWS = 50  # below this, Rich is fast enough and prints the table itself


def print_plain(console: Any, title: Any, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bool:
    """Print the table Rich's ``Table(title=title)`` with these columns (``overflow="fold"``) and rows of Text
    would print; False (nothing printed) when the fast path cannot promise the same output."""
    from rich.cells import cell_len
    from rich.table import Table

    if len(rows) < MIN_ROWS or console.color_system is not None or console.is_terminal:
        return False
    plains = [[cell.plain for cell in row] for row in rows]
    widths = [cell_len(h) for h in headers]
    for row in plains:
        if any("\n" in c or "\t" in c for c in row):
            return False
        for i, c in enumerate(row):
            widths[i] = max(widths[i], cell_len(c))
    if sum(widths) + 3 * len(widths) + 1 > console.width:
        return False  # Rich would fold cells to fit: leave that to it
    frame = Table(title=title)
    for h in headers:
        frame.add_column(h, overflow="fold")
    frame.add_row(*(_widest(rows, plains, i) for i in range(len(headers))))
    with console.capture() as captured:
        console.print(frame)
    lines = captured.get().split("\n")
    # lines: [title..., top rule, header, header rule, the frame's one row, bottom rule, ""]
    row_line = lines[-3]
    if not _is_row(row_line, widths):
        return False
    body = "\n".join("│ " + " │ ".join(c + " " * (w - cell_len(c)) for c, w in zip(row, widths, strict=True)) + " │"
                     for row in plains)  # fmt: skip
    console.file.write("\n".join([*lines[:-3], body, *lines[-2:]]))
    return True


def _widest(rows: Sequence[Sequence[Any]], plains: list[list[str]], column: int) -> Any:
    from rich.cells import cell_len

    best = max(range(len(plains)), key=lambda r: cell_len(plains[r][column]))
    return rows[best][column]


def _is_row(line: str, widths: list[int]) -> bool:
    """Whether Rich laid the frame out at exactly the natural widths (one line per row, ``│ cell │``)."""
    from rich.cells import cell_len

    return cell_len(line) == sum(widths) + 3 * len(widths) + 1 and line.startswith("│ ") and line.endswith(" │")
