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


def print_plain(console: Any, title: Any, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> bool:
    """Print the table Rich's ``Table(title=title)`` with these columns (``overflow="fold"``) and rows (each cell
    shown as ``Text(cell)``: plain text, never markup) would print; False (nothing printed) when the fast path cannot
    promise the same output."""
    from rich.table import Table
    from rich.text import Text

    if len(rows) < MIN_ROWS or console.color_system is not None or console.is_terminal:
        return False
    lengths = []
    for row in rows:
        joined = "".join(row)
        if joined.isascii() and joined.isprintable():  # one test a row: every cell one column a character
            lengths.append(list(map(len, row)))
        elif "\n" in joined or "\t" in joined:
            return False
        else:
            lengths.append([_width(c) for c in row])
    columns = list(zip(*lengths, strict=True))
    widths = [max(_width(h), *sizes) for h, sizes in zip(headers, columns, strict=True)]
    if sum(widths) + 3 * len(widths) + 1 > console.width:
        return False  # Rich would fold cells to fit: leave that to it
    frame = Table(title=title)
    for h in headers:
        frame.add_column(h, overflow="fold")
    frame.add_row(*(Text(_widest(rows, columns[i], i)) for i in range(len(headers))))
    with console.capture() as captured:
        console.print(frame)
    lines = captured.get().split("\n")
    # lines: [title..., top rule, header, header rule, the frame's one row, bottom rule, ""]
    row_line = lines[-3]
    if not _is_row(row_line, widths):
        return False
    body = "\n".join("│ " + " │ ".join(c + " " * (w - n) for c, w, n in zip(row, widths, sizes, strict=True)) + " │"
                     for row, sizes in zip(rows, lengths, strict=True))  # fmt: skip
    console.file.write("\n".join([*lines[:-3], body, *lines[-2:]]))
    return True


def _width(text: str) -> int:
    """Terminal cells ``text`` takes (Rich's measure; one per character for printable ASCII, most cells here)."""
    from rich.cells import cell_len

    return len(text) if text.isascii() and text.isprintable() else cell_len(text)


def _widest(rows: Sequence[Sequence[str]], sizes: Sequence[int], column: int) -> str:
    """The column's first widest cell."""
    return rows[max(range(len(rows)), key=sizes.__getitem__)][column]


def _is_row(line: str, widths: list[int]) -> bool:
    """Whether Rich laid the frame out at exactly the natural widths (one line per row, ``│ cell │``)."""
    from rich.cells import cell_len

    return cell_len(line) == sum(widths) + 3 * len(widths) + 1 and line.startswith("│ ") and line.endswith(" │")
