"""The charts pane and the sparklines of runs beyond the top of the ranking (the poller reads the curves of the
first ``MAX_CURVES`` runs, plus those the screen asks for), on a store that does not change while the cursor
moves: a finished root, or a daemon too busy to commit. The app's own poller sleeps for the whole test; the test
polls and applies by hand (``RankinvApp.poll_once``), so nothing depends on timing."""

from __future__ import annotations

import time
from pathlib import Path

from rankinv.tui.app import RankinvApp, make_app
from rankinv.tui.poller import MAX_CURVES, StorePoller
from rankinv.tui.widgets.run_charts import RunCharts
from textual.pilot import Pilot

from rankinv import metrics
from rankinv.store import Store
from tests.test_tui_pilot import subjects, sync, table, wait_for

RUNS = MAX_CURVES * 5  # 300, as in the report


def _seed(path: Path) -> None:
    with Store.open(path) as store, store.transaction():
        for i in range(RUNS):
            name = f"grpo-{i:04d}"
            store.upsert_run(name, f"/runs/{name}", kind="grpo")
            p = 0.95 - i / 1000  # ranked by number: grpo-0299 is last
            store.put_prediction(name, None, step=30, value=p, lo=p - 0.05, hi=p + 0.05, basis="prior")
            store.add_metrics(name, [(step, metric, 0.5 + i / 1000, None) for step in range(30)
                                     for metric in (metrics.ENTROPY, metrics.REWARD_MEAN)])  # fmt: skip
        store.set_health(watch_mode="inotify", armed=False, heartbeat=time.time(), last_event=time.time(), errors=0)


def _app(tmp_path: Path) -> RankinvApp:
    path = tmp_path / "store.sqlite"
    _seed(path)
    # The worker polls once at start, then waits an hour: every later poll is the test's own.
    return make_app(tmp_path, store_path=path, manage_daemon=False, alerts_on=False, poll_interval=3600)


async def _poll_and_apply(app: RankinvApp, pilot: Pilot[None], poller: StorePoller) -> bool:
    taken = app.poll_once(poller)
    if taken is not None:
        app.post_message(taken)
    await pilot.pause()
    return taken is not None


def _charted(app: RankinvApp) -> list[tuple[str, int]]:
    runs = app.main.query_one(RunCharts).runs
    return [(r.label, len(s.values) if (s := r.curves.get(metrics.ENTROPY)) else 0) for r in runs]


@sync
async def test_the_charts_follow_the_cursor_past_the_top_runs_on_a_quiet_store(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: len(subjects(app)) == RUNS, "the ranked rows")
        poller = StorePoller(app.store_path)
        try:
            assert await _poll_and_apply(app, pilot, poller)  # this poller's first snapshot
            assert _charted(app) == [("grpo-0000", 30)]
            await pilot.press("G")  # the last run: beyond the top MAX_CURVES, its curves not read yet
            assert _charted(app) == [("grpo-0299", 0)]
            # The store has not changed, but the screen wants a run whose curves it does not have: read them.
            assert await _poll_and_apply(app, pilot, poller)
            assert _charted(app) == [("grpo-0299", 30)]
            assert not await _poll_and_apply(app, pilot, poller)  # nothing new wanted, nothing read
            await pilot.press("k")  # a row in view: its curves came with the rows on screen
            assert _charted(app) == [("grpo-0298", 30)]
        finally:
            poller.close()


@sync
async def test_rows_in_view_past_the_top_runs_get_their_sparklines(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: len(subjects(app)) == RUNS, "the ranked rows")
        poller = StorePoller(app.store_path)
        try:
            await _poll_and_apply(app, pilot, poller)
            await pilot.press("G")
            await _poll_and_apply(app, pilot, poller)
            await pilot.pause()
            t = table(app)
            in_view = [c.run for c in t.shown[int(t.scroll_y) : int(t.scroll_y) + t.size.height - 1]]
            assert len(in_view) > 5 and in_view[-1] == "grpo-0299" and "grpo-0290" in in_view
            assert set(in_view) <= set(t.row_data.curves)
            spark = [c.key for c in t.columns_shown].index("entropy_curve")
            assert str(t.cells_of("grpo-0290")[spark]).strip()  # drawn, not blank
        finally:
            poller.close()
