"""The fast table path is correct: after a batch of daemon writes the table's cells equal the store's values,
only the changed rows are drawn and rendered again (counted), a new ranking reorders the rows, and a row that
changed off screen is right when it scrolls into view. Time is the benchmark's business
(benchmarks/bench_tui.py); these tests only count.

Expected cell texts are written out from the numbers the test stores, not through the TUI's formatters.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from rankinv.tui import columns
from rankinv.tui.app import RankinvApp, make_app
from rankinv.tui.widgets import table_lines
from rankinv.tui.widgets.candidates_table import CandidatesTable
from rankinv.tui.widgets.row_cells import draw
from rich.cells import cell_len as columns_width
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import DataTable

from rankinv.store import Candidate, Store
from tests.test_tui_core import cand
from tests.test_tui_pilot import sync, wait_for


def _seed(path: Path, runs: int) -> Path:
    with Store.open(path) as store, store.transaction():
        for i in range(runs):
            name = f"grpo-{i:03d}"
            store.upsert_run(name, f"/runs/{name}", kind="grpo")
            store.put_monitor(name, step=10, entropy=0.5, entropy_drop=0.10, zero_std_fraction=0.2)
            store.put_prediction(name, None, step=10, value=0.90 - i / 100, lo=0.85 - i / 100,
                                 hi=0.95 - i / 100, basis="prior")  # fmt: skip
    return path


def _app(tmp_path: Path, runs: int) -> RankinvApp:
    store = _seed(tmp_path / "store.sqlite", runs)
    return make_app(tmp_path, store_path=store, manage_daemon=False, alerts_on=False, poll_interval=0.05)


def _cell(table: CandidatesTable, subject: str, key: str) -> str:
    column = [c.key for c in table.columns_shown].index(key)
    return str(table.cells_of(subject)[column])


def _rendered_rows(table: CandidatesTable) -> set[str]:
    return {str(k[0].value) for k in table._row_render_cache.keys()}  # noqa: SIM118


def _renders(table: CandidatesTable) -> dict[object, object]:
    """DataTable's rendered row lines (kept, so a fresh render is a new object even under the same key)."""
    cache = table._row_render_cache
    return {k: cache.get(k) for k in cache.keys()}  # noqa: SIM118


def _rendered_since(table: CandidatesTable, before: dict[object, object]) -> set[str]:
    """The rows whose line was rendered again since ``before``."""
    return {str(k[0].value) for k, v in _renders(table).items() if before.get(k) is not v}  # type: ignore[index]


async def _settled(pilot: Pilot[None], table: CandidatesTable, runs: int) -> None:
    await wait_for(pilot, lambda: len(table.shown) == runs, "the rows")
    await pilot.pause(0.2)
    table.refresh()  # a resize during start-up clears DataTable's caches: render once more, then count from here
    await pilot.pause()


@sync
async def test_a_batch_redraws_only_the_changed_rows(tmp_path: Path) -> None:
    app = _app(tmp_path, 12)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await _settled(pilot, table, 12)
        before, rebuilds = _renders(table), table._update_count  # DataTable bumps it on clear, add_row, sort
        changed = {"grpo-002": 0.31, "grpo-007": 0.57, "grpo-010": 0.05}
        with Store.open(app.store_path) as store, store.transaction():
            for run, drop in changed.items():
                store.put_monitor(run, step=11, entropy=0.4, entropy_drop=drop, zero_std_fraction=0.2)
        await wait_for(pilot, lambda: _cell(table, "grpo-007", "entropy_drop") == "57%", "the new value")
        await pilot.pause()
        assert table.redrawn == set(changed)
        assert table._update_count == rebuilds, "the table was rebuilt or fully invalidated"
        assert _rendered_since(table, before) == set(changed), "rows the batch did not touch were rendered again"
        for i in range(12):
            run = f"grpo-{i:03d}"
            assert _cell(table, run, "entropy_drop") == f"{changed.get(run, 0.10) * 100:.0f}%"
            assert _cell(table, run, "predicted") == f"{0.90 - i / 100:.2f}±0.05"


@sync
async def test_a_batch_repaints_the_changed_widgets_not_the_whole_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new snapshot (and the clock's tick) must not repaint the whole screen: every widget composed again, each
    second, where only the table, the status line and the feed changed."""
    from textual._compositor import Compositor

    full, partial = Compositor.render_full_update, Compositor.render_partial_update
    counts = {"full": 0, "partial": 0}

    def counted_full(self: Compositor, *args: object, **kwargs: object) -> object:
        counts["full"] += 1
        return full(self, *args, **kwargs)  # type: ignore[arg-type]

    def counted_partial(self: Compositor, *args: object, **kwargs: object) -> object:
        counts["partial"] += 1
        return partial(self, *args, **kwargs)

    app = _app(tmp_path, 40)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await _settled(pilot, table, 40)
        monkeypatch.setattr(Compositor, "render_full_update", counted_full)
        monkeypatch.setattr(Compositor, "render_partial_update", counted_partial)
        with Store.open(app.store_path) as store, store.transaction():
            _reshuffle(store, 40, 1)
        top = max(range(40), key=lambda i: (i * 7 + 11) % 40)
        await wait_for(pilot, lambda: table.shown[0].run == f"grpo-{top:03d}", "the new ranking")
        await pilot.pause()
        app.main.now += 1.0  # the clock's tick
        await pilot.pause()
        assert counts["partial"] > 0 and counts["full"] == 0, counts


@sync
async def test_a_new_ranking_reorders_rows_with_right_cells(tmp_path: Path) -> None:
    app = _app(tmp_path, 12)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await _settled(pilot, table, 12)
        rebuilds = table._update_count
        # The last run jumps to the top, the first falls to the bottom: one commit, so the screen cannot see one
        # change without the other (two commits could land in two updates, each redrawing one row).
        with Store.open(app.store_path) as store, store.transaction():
            store.put_prediction("grpo-011", None, step=11, value=0.99, lo=0.97, hi=1.0, basis="prior")
            store.put_prediction("grpo-000", None, step=11, value=0.10, lo=0.05, hi=0.15, basis="prior")
        await wait_for(pilot, lambda: table.shown[0].run == "grpo-011", "the new ranking")
        await pilot.pause()
        order = ["grpo-011", *(f"grpo-{i:03d}" for i in range(1, 11)), "grpo-000"]
        assert [str(table.get_row_at(i)[0]) for i in range(12)] == order
        assert str(table.get_row_at(0)[[c.key for c in table.columns_shown].index("predicted")]) == "0.99 [.97,1.00]"
        assert _cell(table, "grpo-000", "predicted") == "0.10±0.05"
        assert table.redrawn == {"grpo-011", "grpo-000"}
        assert table._update_count == rebuilds, "reordering rebuilt the table"


@sync
async def test_another_textual_gets_the_public_path_with_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Textual the fast path was not tested with: DataTable's own update_cell and sort, the same cells and
    order after a batch that changes values and the ranking."""
    from rankinv.tui.widgets import table_cells

    monkeypatch.setattr(table_cells, "TESTED", ())
    app = _app(tmp_path, 12)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await _settled(pilot, table, 12)
        assert not table._fast
        with Store.open(app.store_path) as store, store.transaction():  # one commit: both seen in one update
            store.put_prediction("grpo-011", None, step=11, value=0.99, lo=0.97, hi=1.0, basis="prior")
            store.put_monitor("grpo-005", step=11, entropy=0.4, entropy_drop=0.44, zero_std_fraction=0.2)
        await wait_for(pilot, lambda: table.shown[0].run == "grpo-011", "the new ranking")
        await pilot.pause()
        order = ["grpo-011", *(f"grpo-{i:03d}" for i in range(11))]
        assert [str(table.get_row_at(i)[0]) for i in range(12)] == order
        assert str(table.get_row("grpo-005")[[c.key for c in table.columns_shown].index("entropy_drop")]) == "44%"


def _screen_lines(table: CandidatesTable) -> list[list[tuple[str, object, dict[str, object], object]]]:
    """Every visible line of the table as segments: text, style, the style's meta (the row and column a click
    lands on) and control codes."""
    strips = table.render_lines(Region(0, 0, table.size.width, table.size.height))
    return [[(s.text, s.style, dict(s.style.meta) if s.style else {}, s.control) for s in strip] for strip in strips]


@sync
async def test_a_reshuffled_table_draws_what_a_fresh_render_draws(tmp_path: Path) -> None:
    """Oracle: DataTable's own render with every cache dropped (the lines the fast path reused are compared,
    segment by segment, with lines rendered from nothing); a click lands on the row it is drawn on."""
    app = _app(tmp_path, 40)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await _settled(pilot, table, 40)
        # The ranking reversed; some shown values change too.
        with Store.open(app.store_path) as store, store.transaction():
            for i in range(40):
                store.put_prediction(f"grpo-{i:03d}", None, step=11, value=0.10 + i / 100, lo=0.05 + i / 100,
                                     hi=0.15 + i / 100, basis="prior")  # fmt: skip
                if i % 3 == 0:
                    store.put_monitor(f"grpo-{i:03d}", step=11, entropy=0.4, entropy_drop=0.5, zero_std_fraction=0.2)
        await wait_for(pilot, lambda: table.shown[0].run == "grpo-039", "the new ranking")
        await pilot.pause()
        fast = _screen_lines(table)
        table._clear_caches()
        table._lines.clear()
        assert _screen_lines(table) == fast
        y = 6  # a line below the header (the table scrolled to keep the cursor's run, now last, in view)
        drawn = "".join(text for text, *_ in fast[y])
        await pilot.click(CandidatesTable, offset=(3, y))
        await pilot.pause()
        assert table.selected is not None and f" {table.selected.run} " in drawn


def _textual_lines(table: CandidatesTable) -> list[list[tuple[str, object, dict[str, object], object]]]:
    """Oracle: the visible lines as Textual's own DataTable draws the same data: every cache dropped, the fast
    path switched off (DataTable's cell render, its own styles worked out per line) and DataTable's
    ``render_lines`` called."""
    table._clear_caches()  # (the fast path's own caches are not used with it off: they stay, for the next batch)
    (fast, table._fast), (frame, table._frame) = (table._fast, False), (table._frame, None)
    try:
        strips = DataTable.render_lines(table, Region(0, 0, table.size.width, table.size.height))
    finally:
        table._fast, table._frame = fast, frame
        # What was rendered here must not be shown later as if the fast path had drawn it: the next frame draws
        # every line again through the fast path.
        table._clear_caches()
        table._styles_cache.clear()
    return [[(s.text, s.style, dict(s.style.meta) if s.style else {}, s.control) for s in strip] for strip in strips]


def _fast_lines(table: CandidatesTable) -> list[list[tuple[str, object, dict[str, object], object]]]:
    """The visible lines as the app draws them, checking that the fast path drew every visible body row (so an
    equal oracle says something about it)."""
    lines = _screen_lines(table)
    drawn = {k[0] for k, v in _renders(table).items() if type(v[1]) is table_lines.DrawnRow}  # type: ignore[index]
    in_view = min(table.row_count - int(table.scroll_y), table.size.height - 1)
    assert table._fast and len(drawn) >= in_view, (len(drawn), in_view)
    return lines


def _reshuffle(store: Store, runs: int, tick: int) -> None:
    """A new ranking (a different permutation each tick) and new shown values for every run."""
    for i in range(runs):
        rank = (i * 7 + tick * 11) % runs / runs
        store.put_prediction(f"grpo-{i:03d}", None, step=10 + tick, value=rank, lo=rank - 0.05, hi=rank + 0.05,
                             basis="prior")  # fmt: skip
        store.put_monitor(f"grpo-{i:03d}", step=10 + tick, entropy=0.4, entropy_drop=(i + tick) % 9 / 10,
                          zero_std_fraction=0.2)  # fmt: skip


@sync
async def test_batches_in_place_and_reshuffled_draw_what_textual_draws(tmp_path: Path) -> None:
    """After values change in place (ranking kept), and after two reshuffles in a row (cells drawn at one tick
    reused at other rows the next), each line equals Textual's own render of the same data, segment by segment;
    the cursor stays on its run and in view; styles worked out within a frame do not outlive it (a new theme
    changes every row's colours)."""
    app = _app(tmp_path, 60)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await _settled(pilot, table, 60)
        await pilot.press("j", "j", "j")
        chosen = table.selected
        assert chosen is not None
        # In place: every run's drop changes, the ranking is kept.
        with Store.open(app.store_path) as store, store.transaction():
            for i in range(60):
                store.put_monitor(f"grpo-{i:03d}", step=11, entropy=0.4, entropy_drop=i % 5 / 10, zero_std_fraction=0.2)
        await wait_for(pilot, lambda: _cell(table, "grpo-004", "entropy_drop") == "40%", "the new values")
        await pilot.pause()
        assert table.selected is not None and table.selected.subject == chosen.subject
        assert _fast_lines(table) == _textual_lines(table)
        for tick in (1, 2):
            with Store.open(app.store_path) as store, store.transaction():
                _reshuffle(store, 60, tick)
            top = max(range(60), key=lambda i: (i * 7 + tick * 11) % 60)
            await wait_for(pilot, lambda top=top: table.shown[0].run == f"grpo-{top:03d}", f"ranking {tick}")
            await pilot.pause()
            selected = table.selected
            assert selected is not None and selected.subject == chosen.subject, "the cursor left its run"
            first = int(table.scroll_y)
            assert first <= table.cursor_row < first + table.size.height - 1, "the cursor's row is out of view"
            assert _fast_lines(table) == _textual_lines(table)
        dark = _fast_lines(table)
        app.theme = "textual-light"  # every row's colours change: no style may be kept from an earlier frame
        await pilot.pause()
        light = _fast_lines(table)
        assert light == _textual_lines(table) != dark


@sync
async def test_cursor_hover_resize_and_sort_draw_what_textual_draws(tmp_path: Path) -> None:
    """The kept cells (laid out once, put at each row's place) after what changes a row's look without changing
    its cells: the cursor moving onto and off rows, the mouse's hover, a narrower terminal (columns dropped,
    widths and the fill change), a sort by a column and its reverse; and a reshuffle between them. Each time every
    visible line equals Textual's own render, segment by segment (mouse meta included)."""
    app = _app(tmp_path, 60)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await _settled(pilot, table, 60)

        async def same(why: str) -> None:
            await pilot.pause()
            assert _fast_lines(table) == _textual_lines(table), why

        await same("at start")
        await pilot.press("j", "j", "j")
        await same("cursor moved down")
        await pilot.press("ctrl+d", "k")
        await same("half a page down (scrolled), one up")
        await pilot.hover(CandidatesTable, offset=(6, 5))
        await same("the mouse over a row")
        with Store.open(app.store_path) as store, store.transaction():
            _reshuffle(store, 60, 1)
        top = max(range(60), key=lambda i: (i * 7 + 11) % 60)
        await wait_for(pilot, lambda: table.shown[0].run == f"grpo-{top:03d}", "ranking 1")
        await same("reshuffled")
        wide = len(table.columns_shown)
        await pilot.resize_terminal(100, 40)
        await wait_for(pilot, lambda: len(table.columns_shown) < wide, "columns dropped")
        await same("narrower")
        await pilot.press("s")
        await wait_for(pilot, lambda: table.sort_key is not None, "sorted")
        await same("sorted by a column")
        await pilot.press("i")
        await same("the sort reversed")
        with Store.open(app.store_path) as store, store.transaction():
            _reshuffle(store, 60, 2)
        await wait_for(pilot, lambda: _cell(table, "grpo-000", "predicted").startswith(f"{(2 * 11) % 60 / 60:.2f}"),
                       "ranking 2")  # fmt: skip
        await same("reshuffled again, sorted")
        await pilot.resize_terminal(160, 45)
        await wait_for(pilot, lambda: len(table.columns_shown) == wide, "columns back")
        await same("wide again")


@sync
async def test_a_row_changed_off_screen_is_right_when_it_scrolls_into_view(tmp_path: Path) -> None:
    app = _app(tmp_path, 300)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(CandidatesTable)
        await _settled(pilot, table, 300)
        with Store.open(app.store_path) as store, store.transaction():
            store.put_monitor("grpo-290", step=11, entropy=0.4, entropy_drop=0.77, zero_std_fraction=0.2)
            store.put_monitor("grpo-001", step=11, entropy=0.4, entropy_drop=0.66, zero_std_fraction=0.2)
        await wait_for(pilot, lambda: _cell(table, "grpo-001", "entropy_drop") == "66%", "the on-screen change")
        assert "grpo-290" not in table.redrawn and "grpo-290" not in _rendered_rows(table)  # not drawn yet
        await pilot.press("G")  # to the bottom: the row is drawn as it comes into view
        await wait_for(pilot, lambda: "grpo-290" in _rendered_rows(table), "the row rendered in view")
        drop = [c.key for c in table.columns_shown].index("entropy_drop")
        assert str(table.get_row("grpo-290")[drop]) == "77%"  # as drawn for the screen, not drawn on request


def _other(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7
    if isinstance(value, float):
        return value / 2 + 0.1
    return f"{value}x"


def test_a_cell_reads_only_the_fields_it_declares() -> None:
    """A cell is redrawn only when a field in its ``reads`` changes: any other field must not change it."""
    full = cand(checkpoint=None, job_id="4102", job_state="RUNNING", job_node="n1", job_elapsed=75.0,
                job_checked_at=1.0, triage_state="done", pre_rl_entropy=0.3, pass1=0.4, headroom=2.0,
                expected_variance=0.1, degenerate_fraction=0.2, flagged=True, live_entropy=0.2, entropy_drop=0.4,
                zero_std_fraction=0.3, predicted=0.6, predicted_lo=0.5, predicted_hi=0.7, basis="prior",
                verdict="KILL", verdict_id=3, verdict_summary="s", confidence=0.8, acknowledged=True, pinned=True,
                opt_out=True)  # fmt: skip
    ctx = columns.RowContext()
    for column in columns.COLUMNS:
        if column.context and column.context != "kill":
            continue  # a curve: drawn from the context, tested through the sparkline tests
        drawn = draw(column, full, ctx)
        for name in {f.name for f in dataclasses.fields(Candidate)} - set(column.reads) - {"subject"}:
            changed = draw(column, dataclasses.replace(full, **{name: _other(getattr(full, name))}), ctx)
            assert (changed.plain, changed.spans) == (drawn.plain, drawn.spans), f"{column.key} reads {name}"


@pytest.mark.parametrize("justify", [None, "left", "right", "center"])
@pytest.mark.parametrize("text", ["0.52±0.05", "", "—", "grpo-0001 ", "  lead", "界面", "x" * 12, "x" * 13, "a\tb",
                                  "tab"])  # fmt: skip
def test_a_plain_cell_laid_out_by_hand_is_what_rich_lays_out(text: str, justify: str | None) -> None:
    """Oracle: Rich's layout of the cell as DataTable asks for it (``Styled(Padding(cell))``, one line, no wrap),
    simplified; by hand only where the cell is plain text that fits (else None: Rich lays it out)."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.segment import Segment
    from rich.style import Style
    from rich.text import Text
    from textual.renderables.styled import Styled

    cell = Text(text, justify=justify)  # type: ignore[arg-type]
    cell.no_wrap, cell.overflow = True, "ellipsis"
    pre, post = Style(color="red", bgcolor="blue", bold=True), Style(bgcolor="green")
    console = Console(width=80)
    options = console.options.update_dimensions(14, 1).update(no_wrap=True)
    rich = list(Segment.simplify(console.render_lines(Styled(Padding(cell, (0, 1)), pre, post), options)[0]))
    by_hand = table_lines.plain(cell, 14, 1, pre + post)
    fits = len(text) <= 12 and text.isprintable() and len(text) == columns_width(text)
    assert (by_hand is not None) == (fits and justify != "center")
    if by_hand is not None:
        assert by_hand == rich
