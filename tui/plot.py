"""Text plots for a terminal: a curve with the stage-2 window and a threshold drawn, a histogram, a sparkline.

Pure functions from numbers to Rich ``Text``; the widgets only choose sizes. Nothing here computes a diagnostic:
the threshold line and window come from the configuration and the store.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text

BLOCKS = "▁▂▃▄▅▆▇█"


def _finite(steps: Sequence[int], values: Sequence[float]) -> list[tuple[int, float]]:
    return [(s, v) for s, v in zip(steps, values, strict=False) if v is not None and math.isfinite(v)]


def spark(
    values: Sequence[float],
    width: int,
    lo: float,
    hi: float,
    *,
    style: str = "cyan",
    bad: Callable[[float], bool] | None = None,
) -> Text:
    """A sparkline on a FIXED scale [lo, hi] (so flat and steep runs look different), the whole run resampled to
    ``width`` cells by bucket means; cells where ``bad(value)`` holds are red. Empty when there is no data."""
    data = [v for v in values if v is not None and math.isfinite(v)]
    if not data or width < 1:
        return Text("")
    if len(data) > width:
        edges = [round(i * len(data) / width) for i in range(width + 1)]
        data = [sum(data[a:b]) / (b - a) for a, b in itertools.pairwise(edges) if b > a]
    out = Text()
    for v in data:
        level = (min(hi, max(lo, v)) - lo) / ((hi - lo) or 1.0)
        out.append(BLOCKS[min(len(BLOCKS) - 1, int(level * (len(BLOCKS) - 1) + 0.5))],
                   style="bold red" if bad is not None and bad(v) else style)
    return out


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """One row of block characters scaled to the data's own range (for a shape only; label it so)."""
    data = [v for v in values if v is not None and math.isfinite(v)]
    if not data:
        return ""
    lo, hi = min(data), max(data)
    return spark(data[-width:] if width else data, width or len(data), lo, hi if hi > lo else lo + 1).plain


@dataclass(frozen=True)
class Line:
    """One series to draw, in its own style (and symbol in the legend, so it reads without colour)."""

    steps: Sequence[int]
    values: Sequence[float]
    style: str = "bold"
    label: str = ""


# Braille: each cell is 2 dots wide and 4 high; DOTS[row][col] is the bit of that dot.
DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def chart(
    lines: Sequence[Line],
    width: int,
    height: int,
    *,
    y_range: tuple[float, float],
    x_range: tuple[int, int] | None = None,
    window: tuple[int, int] | None = None,
    hline: float | None = None,
) -> Text:
    """Line chart(s) in braille on a fixed y scale, with the stage-2 ``window`` as dim │ columns, a threshold
    ``hline`` as a red ┄ row, a y axis (top, middle, bottom) and x labels (first step, window steps, last)."""
    pts = [_finite(line.steps, line.values) for line in lines]
    if not any(pts) or width < 4 or height < 2:
        return Text("no data yet", style="dim")
    lo, hi = y_range
    steps = [s for p in pts for s, _ in p] + (list(window) if window else [])
    first, last = x_range or (min(steps), max(steps))
    dots_w, dots_h = width * 2, height * 4

    def dot(step: float, value: float) -> tuple[int, int]:
        x = round((step - first) / max(1, last - first) * (dots_w - 1))
        y = round((hi - min(hi, max(lo, value))) / ((hi - lo) or 1.0) * (dots_h - 1))
        return min(dots_w - 1, max(0, x)), y

    bits = [[0] * width for _ in range(height)]
    styles = [[""] * width for _ in range(height)]
    for line, p in zip(lines, pts, strict=True):
        coords = [dot(s, v) for s, v in p]
        for (x0, y0), (x1, y1) in zip(coords, coords[1:] or coords, strict=False):
            for x, y in _segment(x0, y0, x1, y1):
                bits[y // 4][x // 2] |= DOTS[y % 4][x % 2]
                styles[y // 4][x // 2] = line.style
    grid = [[(chr(0x2800 + b), st) if b else (" ", "") for b, st in zip(br, sr, strict=True)]
            for br, sr in zip(bits, styles, strict=True)]
    marks = [s for s in window or () if first <= s <= last]
    for s in marks:
        c = dot(s, lo)[0] // 2
        for r in range(height):
            if grid[r][c][0] == " ":
                grid[r][c] = ("│", "dim")
    if hline is not None:
        r = dot(first, hline)[1] // 4
        grid[r] = [("┄", "red") if ch == " " else (ch, st) for ch, st in grid[r]]
    ticks = [(first, str(first)), *((s, str(s)) for s in marks), (last, str(last))]
    return _axes(grid, lo, hi, [(dot(s, lo)[0] // 2, t) for s, t in ticks])


def _segment(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """The dots of a straight segment (Bresenham), both ends included."""
    out, dx, dy = [], abs(x1 - x0), -abs(y1 - y0)
    sx, sy, err = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1), abs(x1 - x0) - abs(y1 - y0)
    while True:
        out.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return out
        e2 = 2 * err
        if e2 >= dy:
            err, x0 = err + dy, x0 + sx
        if e2 <= dx:
            err, y0 = err + dx, y0 + sy


def _axes(grid: list[list[tuple[str, str]]], lo: float, hi: float, ticks: list[tuple[int, str]]) -> Text:
    out, mid = Text(), len(grid) // 2
    for r, cells in enumerate(grid):
        value = hi if r == 0 else lo if r == len(grid) - 1 else (hi + lo) / 2 if r == mid and len(grid) > 4 else None
        out.append(f"{value:6.3g} ┤" if value is not None else "       │", style="dim")
        for ch, style in cells:
            out.append(ch, style=style)
        out.append("\n")
    axis = [" "] * len(grid[0])
    for i, (col, text) in enumerate(ticks):  # start at their column (the last ends there); never overlap
        start = min(max(0, col - (len(text) - 1 if i == len(ticks) - 1 else 0)), len(axis) - len(text))
        if all(c == " " for c in axis[max(0, start - 1) : start + len(text) + 1]):
            axis[start : start + len(text)] = list(text)
    out.append("   step " + "".join(axis), style="dim")
    return out


def _bounds(points: list[tuple[int, float]], hline: float | None) -> tuple[float, float]:
    values = [v for _, v in points] + ([hline] if hline is not None else [])
    lo, hi = min(values), max(values)
    return (lo - 0.5, hi + 0.5) if hi - lo < 1e-12 else (lo, hi)


def curve(
    steps: Sequence[int],
    values: Sequence[float],
    width: int,
    height: int,
    *,
    window: tuple[int, int] | None = None,
    hline: float | None = None,
    x_labels: tuple[str, str] | None = None,
    y_range: tuple[float, float] | None = None,
) -> Text:
    """One series as a :func:`chart`; its y scale is ``y_range`` when given (prefer it), else the data's range."""
    points = _finite(steps, values)
    if not points:
        return Text("no data yet", style="dim")
    text = chart([Line(steps, values)], width, height, y_range=y_range or _bounds(points, hline), window=window,
                 hline=hline)
    if x_labels:
        lines = text.split("\n")
        axis = Text("   " + " " * 5 + f"{x_labels[0]:<{width // 2}}{x_labels[1]:>{width - width // 2}}", style="dim")
        text = Text("\n").join([*lines[:-1], axis])
    return text


def histogram(values: Sequence[float], bins: int = 10, width: int = 30) -> Text:
    """Horizontal bars of how many values fall in each of ``bins`` equal slices of [0, 1] (per-prompt pass rates)."""
    data = [v for v in values if v is not None and math.isfinite(v)]
    if not data:
        return Text("no per-prompt results", style="dim")
    counts = [0] * bins
    for v in data:
        counts[min(bins - 1, max(0, int(v * bins)))] += 1
    top = max(counts)
    out = Text()
    for i, count in enumerate(counts):
        bar = "█" * round(count / top * width) if top else ""
        out.append(f"{i / bins:.1f}–{(i + 1) / bins:.1f} ", style="dim")
        out.append(bar or ("▏" if count else ""), style="cyan")
        out.append(f" {count}\n")
    out.rstrip()
    return out
