"""Text plots for a terminal: a curve with the stage-2 window and a threshold drawn, a histogram, a sparkline.

Pure functions from numbers to Rich ``Text``; the widgets only choose sizes. Nothing here computes a diagnostic:
the threshold line and window come from the configuration and the store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text

BLOCKS = "▁▂▃▄▅▆▇█"


def _finite(steps: Sequence[int], values: Sequence[float]) -> list[tuple[int, float]]:
    return [(s, v) for s, v in zip(steps, values, strict=False) if v is not None and math.isfinite(v)]


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """One row of block characters; the last ``width`` finite values."""
    data = [v for v in values if v is not None and math.isfinite(v)]
    if width is not None:
        data = data[-width:]
    if not data:
        return ""
    lo, hi = min(data), max(data)
    span = hi - lo or 1.0
    return "".join(BLOCKS[min(len(BLOCKS) - 1, int((v - lo) / span * (len(BLOCKS) - 1) + 0.5))] for v in data)


def _bounds(points: list[tuple[int, float]], hline: float | None) -> tuple[float, float]:
    values = [v for _, v in points] + ([hline] if hline is not None else [])
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def curve(
    steps: Sequence[int],
    values: Sequence[float],
    width: int,
    height: int,
    *,
    window: tuple[int, int] | None = None,
    hline: float | None = None,
    x_labels: tuple[str, str] | None = None,
) -> Text:
    """A dot plot of ``values`` over ``steps`` in ``width``×``height`` cells plus a y-axis gutter.

    ``window`` (s0, decision step) is drawn as dim vertical bars, ``hline`` (a threshold) as a red dashed line;
    ``x_labels`` replaces the first and last step under the axis (for a log-scaled x such as k).
    """
    points = _finite(steps, values)
    if not points or width < 4 or height < 2:
        return Text("no data yet", style="dim")
    lo, hi = _bounds(points, hline)
    first = min(s for s, _ in points)
    last = max([s for s, _ in points] + ([window[1]] if window else []))
    span = max(1, last - first)

    def col(step: float) -> int:
        return min(width - 1, max(0, round((step - first) / span * (width - 1))))

    def row(value: float) -> int:
        return min(height - 1, max(0, round((hi - value) / (hi - lo) * (height - 1))))

    grid = [[(" ", "")] * width for _ in range(height)]
    if window:
        for s in window:
            if first <= s <= last:
                for r in range(height):
                    grid[r][col(s)] = ("│", "dim")
    if hline is not None:
        r = row(hline)
        grid[r] = [("┄", "red") if ch == " " else (ch, st) for ch, st in grid[r]]
    for s, v in points:
        grid[row(v)][col(s)] = ("•", "bold")
    return _with_axis(grid, lo, hi, x_labels or (str(first), str(last)))


def _with_axis(grid: list[list[tuple[str, str]]], lo: float, hi: float, ends: tuple[str, str]) -> Text:
    out = Text()
    for r, cells in enumerate(grid):
        label = f"{hi:7.3g}" if r == 0 else f"{lo:7.3g}" if r == len(grid) - 1 else " " * 7
        out.append(label + " ", style="dim")
        for ch, style in cells:
            out.append(ch, style=style)
        out.append("\n")
    width = len(grid[0])
    half = max(1, width // 2)
    out.append(" " * 8 + f"{ends[0]:<{half}}{ends[1]:>{width - half}}", style="dim")
    return out


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
