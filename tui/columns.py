"""The candidates table's columns: what each shows, how it sorts, and which drop first when the terminal is narrow.

Pure (no Textual). Labels come from :mod:`rankinv.vocabulary`, shared with ``rankinv status``. A cell is drawn
from the candidate and its :class:`RowContext` (curves, kill action, thresholds); sparklines have fixed scales.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from rankinv.tui import format as fmt
from rankinv.tui import plot
from rankinv.tui.thresholds import Thresholds, baseline
from rich.text import Text

from rankinv import metrics
from rankinv.store import ActionRecord, Candidate, Series
from rankinv.vocabulary import PRIORITY, drop_order, label

Cell = str | Text
SPARK = 10


@dataclass(frozen=True)
class RowContext:
    curves: Mapping[str, Series] = field(default_factory=dict)
    kill: ActionRecord | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True)
class Column:
    key: str
    width: int
    render: Callable[[Candidate, RowContext], Cell]
    sort_value: Callable[[Candidate], float | str | None] | None
    right: bool = True
    reads: tuple[str, ...] = ()  # the Candidate fields the cell shows: it is redrawn only when one changes
    context: str = ""  # what of the RowContext it shows too: a curve's metric name, or "kill"
    _reads: Callable[[Candidate], object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reads", attrgetter(*self.reads) if self.reads else lambda _: ())

    def inputs(self, candidate: Candidate, ctx: RowContext) -> tuple[object, ...]:
        """Everything the cell is drawn from (equal inputs, equal cell): the fields it reads (one value, or a tuple
        of them) and what of the context it shows."""
        values = self._reads(candidate)
        if self.context == "kill":
            return values, ctx.kill
        return (values, ctx.curves.get(self.context)) if self.context else (values,)

    @property
    def label(self) -> str:
        return label(self.key)

    @property
    def priority(self) -> int:
        """0 is always shown; higher numbers go first when space runs out (the vocabulary's, shared with status)."""
        return PRIORITY[self.key]

    @property
    def cells(self) -> int:
        """Width on screen: never narrower than the label and its sort arrow, so the arrow never vanishes."""
        return max(self.width, len(self.label) + 1)


def _verdict_cell(c: Candidate, _: RowContext) -> Text:
    text: Text = fmt.verdict_text(
        fmt.verdict_name(c), acknowledged=c.acknowledged, pinned=c.pinned, flagged=c.flagged
    )
    return text


def _entropy_spark(c: Candidate, ctx: RowContext) -> Text:
    """Entropy over its stage-2 baseline on 0–1 (1 = no drop); red once below the kill line 1 − τ₂."""
    s = ctx.curves.get(metrics.ENTROPY)
    base = baseline(s, ctx.thresholds)
    if s is None or not base:
        return Text("")
    floor = 1 - ctx.thresholds.tau_2
    text: Text = plot.spark([v / base for v in s.values], SPARK, 0.0, 1.0, bad=lambda r: r < floor)
    return text


def _unit_spark(
    name: str, limit: Callable[[Thresholds], float] | None = None
) -> Callable[[Candidate, RowContext], Text]:
    def render(c: Candidate, ctx: RowContext) -> Text:
        s = ctx.curves.get(name)
        if s is None:
            return Text("")
        line = limit(ctx.thresholds) if limit else None
        text: Text = plot.spark(s.values, SPARK, 0.0, 1.0, style="green" if limit is None else "cyan",
                                bad=(lambda v: v > line) if line is not None else None)
        return text

    return render


_VERDICT_ORDER = {"KILL": 0, "FLAG": 1, "WATCH": 2, "CONTINUE": 3}


def _row_label(c: Candidate, _: RowContext) -> str:
    text: str = fmt.candidate_label(c)
    return text


COLUMNS: tuple[Column, ...] = (
    Column("run", 22, _row_label, lambda c: c.subject, right=False, reads=("run", "checkpoint")),
    Column("kind", 4, lambda c, _: fmt.KINDS.get(c.kind, c.kind), lambda c: c.kind, right=False, reads=("kind",)),
    Column("step", 5, lambda c, _: fmt.DASH if c.step is None else str(c.step), lambda c: c.step, reads=("step",)),
    Column("predicted", 15, lambda c, _: fmt.interval(c.predicted, c.predicted_lo, c.predicted_hi),
           lambda c: c.predicted, reads=("predicted", "predicted_lo", "predicted_hi")),
    Column("basis", 10, lambda c, _: fmt.basis(c.basis), lambda c: c.basis, right=False, reads=("basis",)),
    Column("pre_rl_entropy", 4, lambda c, _: fmt.num(c.pre_rl_entropy), lambda c: c.pre_rl_entropy,
           reads=("pre_rl_entropy",)),
    Column("headroom", 5, lambda c, _: fmt.num(c.headroom, 1), lambda c: c.headroom, reads=("headroom",)),
    Column("expected_variance", 5, lambda c, _: fmt.num(c.expected_variance, 3), lambda c: c.expected_variance,
           reads=("expected_variance",)),
    Column("live_entropy", 4, lambda c, _: fmt.num(c.live_entropy), lambda c: c.live_entropy,
           reads=("live_entropy",)),
    Column("entropy_drop", 4, lambda c, _: fmt.pct(c.entropy_drop), lambda c: c.entropy_drop,
           reads=("entropy_drop",)),
    Column("entropy_curve", SPARK, _entropy_spark, None, right=False, context=metrics.ENTROPY),
    Column("zero_std_fraction", 4, lambda c, _: fmt.pct(c.zero_std_fraction), lambda c: c.zero_std_fraction,
           reads=("zero_std_fraction",)),
    Column("zero_std_curve", SPARK, _unit_spark(metrics.FRAC_REWARD_ZERO_STD, lambda t: t.max_zero_std), None,
           right=False, context=metrics.FRAC_REWARD_ZERO_STD),
    Column("reward_curve", SPARK, _unit_spark(metrics.REWARD_MEAN), None, right=False,
           context=metrics.REWARD_MEAN),
    Column("verdict", 10, _verdict_cell, lambda c: _VERDICT_ORDER.get(fmt.verdict_name(c) or "", 9), right=False,
           reads=("verdict", "flagged", "acknowledged", "pinned")),
    Column("confidence", 4, lambda c, _: fmt.pct(c.confidence), lambda c: c.confidence, reads=("confidence",)),
    Column("job", 24, lambda c, ctx: fmt.job(c, ctx.kill), fmt.job, right=False,
           reads=("job_id", "job_state", "job_elapsed", "job_node", "status"), context="kill"),
)
BY_KEY = {c.key: c for c in COLUMNS}
PADDING = 2  # DataTable's cell padding, one space each side


def fitting(width: int, columns: Sequence[Column] = COLUMNS) -> tuple[Column, ...]:
    """The columns that fit ``width`` cells, in table order, dropped in the vocabulary's :func:`drop_order` (highest
    priority number first, among equals the rightmost), as ``rankinv status`` drops its own."""
    kept = list(columns)
    by_key = {c.key: c for c in columns}
    for key in drop_order([c.key for c in columns]):
        if len(kept) <= 1 or sum(c.cells + PADDING for c in kept) <= width:
            break
        kept.remove(by_key[key])
    return tuple(kept)


def ordered(candidates: Sequence[Candidate], key: str | None, reverse: bool) -> list[Candidate]:
    """The store's ranking when ``key`` is None; else by that column, missing values always last."""
    if key is None:
        return list(reversed(candidates)) if reverse else list(candidates)
    value = BY_KEY[key].sort_value
    assert value is not None, f"column {key} does not sort"
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


def next_sort(current: str | None, visible: Sequence[Column], step: int = 1) -> str | None:
    """``s`` (``step`` 1) and ``S`` (−1) move through: ranking → each visible sortable column → ranking."""
    keys: list[str | None] = [None, *(c.key for c in visible if c.sort_value is not None)]
    position = keys.index(current) if current in keys else 0
    return keys[(position + step) % len(keys)]
