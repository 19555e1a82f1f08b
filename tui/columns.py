"""The candidates table's columns: what each shows, how it sorts, and which drop first when the terminal is narrow.

Pure (no Textual): the table widget asks for the columns that fit its width, the rows in the chosen order,
and the rows matching the filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rankinv.tui import format as fmt
from rich.text import Text

from rankinv.store import Candidate

Cell = str | Text


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    priority: int  # 0 is always shown; higher numbers go first when space runs out
    render: Callable[[Candidate], Cell]
    sort_value: Callable[[Candidate], float | str | None]
    right: bool = True


def _verdict_cell(c: Candidate) -> Text:
    text: Text = fmt.verdict_text(
        fmt.verdict_name(c), acknowledged=c.acknowledged, pinned=c.pinned, flagged=c.flagged
    )
    return text


_VERDICT_ORDER = {"KILL": 0, "FLAG": 1, "WATCH": 2, "CONTINUE": 3}

COLUMNS: tuple[Column, ...] = (
    Column("run", "run", 22, 0, fmt.candidate_label, lambda c: c.subject, right=False),
    Column("kind", "kind", 4, 5, lambda c: fmt.KINDS.get(c.kind, c.kind), lambda c: c.kind, right=False),
    Column("step", "step", 5, 3, lambda c: fmt.DASH if c.step is None else str(c.step), lambda c: c.step),
    Column(
        "predicted", "pass@10", 9, 0,
        lambda c: fmt.interval(c.predicted, c.predicted_lo, c.predicted_hi), lambda c: c.predicted,
    ),
    Column("basis", "basis", 6, 6, lambda c: c.basis or fmt.DASH, lambda c: c.basis, right=False),
    Column("entropy", "H0", 4, 2, lambda c: fmt.num(c.pre_rl_entropy), lambda c: c.pre_rl_entropy),
    Column("headroom", "p/p*", 5, 1, lambda c: fmt.num(c.headroom, 1), lambda c: c.headroom),
    Column("variance", "E[σ²]", 5, 4, lambda c: fmt.num(c.expected_variance, 3), lambda c: c.expected_variance),
    Column("live", "H", 4, 4, lambda c: fmt.num(c.live_entropy), lambda c: c.live_entropy),
    Column("drop", "drop", 4, 1, lambda c: fmt.pct(c.entropy_drop), lambda c: c.entropy_drop),
    Column("zero_std", "0std", 4, 3, lambda c: fmt.pct(c.zero_std_fraction), lambda c: c.zero_std_fraction),
    Column(
        "verdict", "verdict", 10, 0, _verdict_cell,
        lambda c: _VERDICT_ORDER.get(fmt.verdict_name(c) or "", 9), right=False,
    ),
    Column("job", "job", 9, 2, fmt.job, fmt.job, right=False),
)
BY_KEY = {c.key: c for c in COLUMNS}
PADDING = 2  # DataTable's cell padding, one space each side


def fitting(width: int, columns: Sequence[Column] = COLUMNS) -> tuple[Column, ...]:
    """The columns that fit ``width`` cells, dropping the highest priority numbers first, in table order."""
    kept = list(columns)
    while len(kept) > 1 and sum(c.width + PADDING for c in kept) > width:
        worst = max((c for c in kept if c.priority > 0), key=lambda c: c.priority, default=None)
        if worst is None:
            break
        kept.remove(worst)
    return tuple(kept)


def ordered(candidates: Sequence[Candidate], key: str | None, reverse: bool) -> list[Candidate]:
    """The store's ranking when ``key`` is None; else by that column, missing values always last."""
    if key is None:
        return list(reversed(candidates)) if reverse else list(candidates)
    value = BY_KEY[key].sort_value
    present = [(v, c) for c in candidates if (v := value(c)) is not None]
    absent = [c for c in candidates if value(c) is None]
    present.sort(key=lambda pair: pair[0], reverse=reverse)
    return [c for _, c in present] + absent


def matching(candidates: Sequence[Candidate], text: str) -> list[Candidate]:
    """Case-insensitive substring match on run, checkpoint, kind, verdict and job state."""
    needle = text.strip().lower()
    if not needle:
        return list(candidates)

    def haystack(c: Candidate) -> str:
        parts = (c.subject, c.kind, fmt.verdict_name(c) or "", c.job_state or "", c.status or "")
        return " ".join(parts).lower()

    return [c for c in candidates if needle in haystack(c)]


def next_sort(current: str | None, visible: Sequence[Column]) -> str | None:
    """``s`` cycles: ranking → each visible column → ranking."""
    keys: list[str | None] = [None, *(c.key for c in visible)]
    position = keys.index(current) if current in keys else 0
    return keys[(position + 1) % len(keys)]
