"""TUI tier 2, the everyday keys and panes: j/k/g/G/ctrl-d/ctrl-u, the live filter, sort and reverse, marks and
the charts pane, l (log) and y (copy), the feed's size, the header's context, the glossary, an empty root.

Pilot drives the app from make_app(...) on a real SQLite store (tests/support/tui_seed.py)."""

from __future__ import annotations

import io
from pathlib import Path

from rankinv.tui import columns
from rankinv.tui.app import RankinvApp, make_app
from rankinv.tui.messages import RunLocated
from rankinv.tui.screens.detail import DetailScreen
from rankinv.tui.screens.help import HelpScreen
from rankinv.tui.widgets.context_bar import ContextBar
from rankinv.tui.widgets.run_charts import Chart, RunCharts
from rankinv.tui.widgets.status_bar import StatusBar
from rankinv.tui.widgets.verdict_feed import VerdictFeed
from rich.console import Console
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Static

from rankinv.store import Store
from rankinv.vocabulary import COLUMNS
from tests.test_tui_pilot import RANKED, app_for, subjects, sync, table, wait_for, writer


def _text(widget: Static) -> str:
    """What a Static holding a Rich renderable prints, at the width the help dialog has."""
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def cursor(app: RankinvApp) -> str:
    selected = table(app).selected
    assert selected is not None
    return selected.subject


@sync
async def test_vim_and_page_keys_move_the_cursor(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("j", "j")
        assert cursor(app) == RANKED[2]
        await pilot.press("k")
        assert cursor(app) == RANKED[1]
        await pilot.press("G")
        assert cursor(app) == RANKED[-1]
        await pilot.press("g")
        assert cursor(app) == RANKED[0]
        await pilot.press("end")
        assert cursor(app) == RANKED[-1]
        await pilot.press("home")
        assert cursor(app) == RANKED[0]
        await pilot.press("ctrl+d")  # half a page of a tall table: past the 4 rows, so the last
        assert cursor(app) == RANKED[-1]
        await pilot.press("ctrl+u")
        assert cursor(app) == RANKED[0]


@sync
async def test_slash_filters_live_and_escape_clears(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("slash", "s", "f")  # no enter: every keystroke filters
        await wait_for(pilot, lambda: subjects(app) == RANKED[1:3], "only the sft-a checkpoints")
        assert "2/4 rows" in str(app.main.query_one(StatusBar).render())
        await pilot.press("t", "enter")  # enter keeps the filter and goes back to the rows ("sft" still matches)
        assert table(app).has_focus and subjects(app) == RANKED[1:3]
        await pilot.press("j")
        assert cursor(app) == RANKED[2]  # j moves, it is not typed into the filter
        await pilot.press("escape")
        await wait_for(pilot, lambda: subjects(app) == RANKED, "all rows back")
        box = app.main.query_one("#filter", Input)
        assert box.value == "" and not box.display
        assert "filter" not in str(app.main.query_one(StatusBar).render())


@sync
async def test_sort_keys_and_the_arrow_on_every_sortable_header(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        sortable = [c for c in table(app).columns_shown if c.sort_value is not None]
        for column in sortable:
            await pilot.press("s")
            assert table(app).sort_key == column.key
            label = str(table(app).columns[column.key].label)
            assert label.startswith(column.label) and label[-1] in "▲▼", label  # never cut off
        await pilot.press("s")
        assert table(app).sort_key is None  # back to the ranking
        await pilot.press("S")
        assert table(app).sort_key == sortable[-1].key  # S goes backwards
        await pilot.press("s", "s")  # run, ascending
        assert subjects(app) == sorted(RANKED)
        await pilot.press("i")
        assert table(app).sort_reverse and subjects(app) == sorted(RANKED, reverse=True)
        assert str(table(app).columns["run"].label).endswith("▼")


@sync
async def test_charts_follow_the_cursor_and_overlay_marked_rows(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        charts = app.main.query_one(RunCharts)
        assert charts.display and app.main.has_class("tall")
        await wait_for(pilot, lambda: [r.label for r in charts.runs] == ["grpo-good"], "the selected run charted")
        entropy = app.main.query_one("#chart-entropy", Chart)
        assert entropy.runs[0].curves["entropy"].values[0] == 0.4  # the seeded curve, from the store
        await pilot.press("G")
        await wait_for(pilot, lambda: [r.label for r in charts.runs] == ["grpo-bad"], "the cursor's run")
        base = 0.4 * (1 - 0.64 * 10 / 150)  # the seed's grpo-bad entropy at s0 = 10
        assert f"kill <{base * 0.5:.2f}" in str(entropy.render())  # × (1 − τ₂ 0.5), labelled
        await pilot.press("space", "g", "space")  # mark grpo-bad and grpo-good
        await wait_for(pilot, lambda: len(charts.runs) == 2, "two runs overlaid")
        assert {r.label for r in charts.runs} == {"grpo-good", "grpo-bad"}
        assert "entropy/H(s0)" in str(entropy.render())  # overlaid: relative to each run's own baseline
        assert str(table(app).get_row_at(0)[0]).startswith("◆ ")
        await pilot.press("space")
        await wait_for(pilot, lambda: [r.label for r in charts.runs] == ["grpo-bad"], "one mark left")


@sync
async def test_charts_pane_gives_way_on_a_small_terminal(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        assert not app.main.has_class("tall") and not app.main.query_one(RunCharts).display


@sync
async def test_row_sparklines_use_fixed_scales(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_for(pilot, lambda: bool(table(app).row_data.curves), "the curves")
        await pilot.pause()
        keys = [c.key for c in table(app).columns_shown]
        good, bad = (table(app).get_row_at(i) for i in (0, 3))
        spark_good, spark_bad = (str(row[keys.index("entropy_curve")]) for row in (good, bad))
        # grpo-good loses 18% of its entropy: on a fixed 0–1 scale of H/H(s0) it stays high; grpo-bad (64%) falls.
        assert spark_good[-1] in "▇█" and spark_bad[-1] in "▃▄"
        zero = str(bad[keys.index("zero_std_curve")])
        assert zero[0] in "▂▃" and zero[-1] in "▇█"  # 0.3 → 0.95 on 0–1
        cells = [str(cell) for cell in bad]
        assert "4102 R dry-kill" in cells  # the job, its Slurm state, and what the (dry-run) kill did


@sync
async def test_y_copies_the_run_folder_and_l_finds_its_log(tmp_path: Path) -> None:
    seen: list[Message] = []
    app = app_for(tmp_path)
    run = tmp_path / "grpo-good"
    run.mkdir()
    (run / "rankinv.jsonl").write_text("{}\n")
    (run / "slurm-4101.out").write_text("step 1\n")
    with writer(app) as store:
        store.upsert_run("grpo-good", str(run))
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.clipboard == str(run), "the path on the clipboard (OSC 52)")
        await pilot.press("l")
        await wait_for(pilot, lambda: any(isinstance(m, RunLocated) and m.purpose == "log" for m in seen), "log")
        located = next(m for m in seen if isinstance(m, RunLocated) and m.purpose == "log")
        assert located.log == str(run / "slurm-4101.out")  # what the job printed comes before rankinv's JSONL


@sync
async def test_feed_reads_one_line_per_event_and_resizes(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    with writer(app) as store:
        for step in (31, 32, 33):
            text = f"dry-run: run grpo-bad step {step}: KILL (91%): entropy drop"
            store.add_event("warning", "action", text, run="grpo-bad")
        store.add_event("info", "verdict", "CONTINUE (80%): was KILL; recovered", run="grpo-good")
    async with app.run_test(size=(120, 30)) as pilot:
        feed = app.main.query_one(VerdictFeed)
        body = feed.query_one("#feed-lines", Static)
        await wait_for(pilot, lambda: "×3" in str(body.render()), "three repeats collapsed")
        lines = str(body.render()).splitlines()
        assert lines[0].split()[1:3] == ["✔", "grpo-good"]  # CONTINUE carries ✔, even when it mentions KILL
        assert "CONTINUE (conf 80%)" in lines[0]
        assert lines[1].count("grpo-bad") == 1 and lines[1].endswith("×3")
        assert "dry-run: step 33: KILL (conf 91%): entropy drop" in lines[1]
        before = feed.size.height
        await pilot.press("plus", "plus")
        await wait_for(pilot, lambda: feed.size.height == before + 4, "a taller feed")
        await pilot.press("minus")
        await wait_for(pilot, lambda: feed.size.height == before + 2, "a bit shorter")


@sync
async def test_header_names_the_root_the_config_and_warns_about_a_child_config(tmp_path: Path) -> None:
    (tmp_path / "rankinv.toml").write_text("[monitor]\ntau_2 = 0.5\n")
    (tmp_path / "team-b").mkdir()
    (tmp_path / "team-b" / "rankinv.toml").write_text("[monitor]\ntau_2 = 0.3\n")
    (tmp_path / "team-c").mkdir()
    (tmp_path / "team-c" / "rankinv.toml").write_text("[monitor]\ntau_2 = 0.5\n")  # the same: no warning
    app = app_for(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        header = app.main.query_one(ContextBar)
        await wait_for(pilot, lambda: bool(header.warnings), "the warning")
        text = str(header.render())
        assert f"root {tmp_path}" in text and f"config {tmp_path / 'rankinv.toml'}" in text
        assert len(header.warnings) == 1 and "team-b/rankinv.toml differs" in header.warnings[0]


@sync
async def test_an_empty_root_says_what_rankinv_looks_for(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    Store.open(path).close()  # a daemon that found nothing yet
    app = make_app(tmp_path, store_path=path, manage_daemon=False, alerts_on=False, poll_interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        empty = app.main.query_one("#empty", Static)
        await wait_for(pilot, lambda: app.main.snapshot is not None and empty.display, "the explanation")
        assert "checkpoint-N/" in str(empty.render()) and "trainer_state.json" in str(empty.render())


@sync
async def test_help_has_a_glossary_of_every_column(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        glossary, terms = (_text(app.screen.query_one(f"#{name}", Static)) for name in ("glossary", "terms"))
        shown = {c.label for c in columns.COLUMNS}  # every column the table can show is explained
        for term in COLUMNS:
            assert term.label in glossary and term.meaning[:30] in " ".join(glossary.split())
        assert shown <= {t.label for t in COLUMNS}
        assert "p*(g)" in terms and "τ₂" in terms


@sync
async def test_mouse_click_selects_a_row_and_untrusted_names_print_as_data(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    with writer(app) as store:
        store.upsert_run("evil\x1b]52;c;eA==\x07[bold]x", "/runs/evil", kind="grpo")
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: len(subjects(app)) == 5, "five rows")
        labels = [str(table(app).get_row_at(i)[0]) for i in range(5)]
        assert "evil\\x1b]52;c;eA==\\x07[bold]x" in labels and not any("\x1b" in label for label in labels)
        await pilot.click(table(app).__class__, offset=(3, 3))  # the header is row 0 of the widget
        await wait_for(pilot, lambda: table(app).cursor_row == 2, "a click moves the cursor")
        await pilot.click(table(app).__class__, offset=(3, 3))
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), "a click on it opens the detail")
        assert app.screen.candidate is not None and app.screen.candidate.subject == subjects(app)[2]


@sync
async def test_charts_legend_prints_an_untrusted_name_as_written(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    name, label = "evil\x1b[31m[b]x[/b]", "evil\\x1b[31m[b]x[/b]"  # the label: the control byte made visible
    with writer(app) as store:
        store.upsert_run(name, "/runs/evil", kind="grpo")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: len(subjects(app)) == 5, "five rows")
        charts = app.main.query_one(RunCharts)
        for _ in range(5):
            if [r.label for r in charts.runs] == [label]:
                break
            await pilot.press("j")
            await pilot.pause()
        await wait_for(pilot, lambda: [r.label for r in charts.runs] == [label], "the hostile run charted")
        # What Textual draws is the stored title; the public getter re-encodes it as markup, which Textual's own
        # parser does not read back exactly for text like this, so the stored one is checked.
        drawn = getattr(charts, "_border_title", None)
        plain = drawn.plain if isinstance(drawn, Content) else str(drawn)
        assert plain == f"━ {label}"  # markup-looking text kept as written, nothing added or lost
