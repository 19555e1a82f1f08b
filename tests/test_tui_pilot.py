"""TUI tier 2: Pilot drives the app from make_app(...) on a real SQLite store; we assert on the messages the
app posts, then on widget state. Live updates are written to the store while the app runs."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from rankinv.tui.app import RankinvApp, make_app
from rankinv.tui.messages import (
    AlertSent,
    CommandQueued,
    ContextChecked,
    DaemonAttached,
    DetailLoaded,
    SnapshotTaken,
    StoreUnavailable,
    VerdictIssued,
)
from rankinv.tui.screens.confirm import ConfirmScreen
from rankinv.tui.screens.detail import DetailScreen
from rankinv.tui.screens.help import HelpScreen
from rankinv.tui.widgets.candidates_table import CandidatesTable
from rankinv.tui.widgets.context_bar import ContextBar
from rankinv.tui.widgets.curve_plot import CurvePlot
from rankinv.tui.widgets.status_bar import StatusBar
from textual.message import Message
from textual.pilot import Pilot

from rankinv.messages import Command, CommandKind
from rankinv.store import Store
from tests.support.fakelog import append, make_run, record
from tests.support.tui_seed import TRIAGE_CKPT, make_store

RANKED = ["grpo-good", "sft-a@/runs/sft-a/checkpoint-100", "sft-a@/runs/sft-a/checkpoint-200", "grpo-bad"]


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (no async pytest plugin needed); fixtures pass through."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def wait_for(pilot: Pilot[None], condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    """Wait on a condition with a generous deadline (never a fixed sleep as the assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def app_for(tmp_path: Path, **kw: object) -> RankinvApp:
    store = make_store(tmp_path / "store.sqlite")
    options: dict[str, object] = {"manage_daemon": False, "alerts_on": False, "poll_interval": 0.05}
    options.update(kw)
    return make_app(tmp_path, store_path=store, **options)  # type: ignore[arg-type]


def table(app: RankinvApp) -> CandidatesTable:
    return app.main.query_one(CandidatesTable)


def subjects(app: RankinvApp) -> list[str]:
    return [c.subject for c in table(app).shown]


def writer(app: RankinvApp) -> Store:
    return Store.open(app.store_path)


def store_verdict_id(app: RankinvApp, run: str) -> int:
    with writer(app) as store:
        return store.verdicts(run)[0].id


def pending(app: RankinvApp) -> list[tuple[str, str | None, str | None]]:
    with writer(app) as store:
        return [(c.kind, c.run, c.source) for c in store.pending_commands()]


@sync
async def test_ranked_rows_arrive_as_a_snapshot_message(tmp_path: Path) -> None:
    seen: list[Message] = []
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: any(isinstance(m, SnapshotTaken) for m in seen), "a SnapshotTaken message")
        snap = next(m for m in seen if isinstance(m, SnapshotTaken)).snapshot
        assert [c.subject for c in snap.candidates] == RANKED
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        assert table(app).row_count == 4
        assert "inotify" in str(app.main.query_one(StatusBar).render())


@sync
async def test_a_daemon_commit_shows_up_live(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        with writer(app) as store:
            store.upsert_run("grpo-new", "/runs/grpo-new", kind="grpo", job_id="4200", job_state="RUNNING")
            store.put_prediction("grpo-new", None, step=20, value=0.91, lo=0.85, hi=0.97, basis="prior")
        await wait_for(pilot, lambda: subjects(app)[:1] == ["grpo-new"], "the new best run on top")
        assert str(table(app).get_row_at(0)[0]) == "grpo-new"


@sync
async def test_acting_keys_queue_commands_for_the_daemon(tmp_path: Path) -> None:
    seen: list[Message] = []
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("c")  # pin continue on the top row (grpo-good)
        await wait_for(pilot, lambda: any(isinstance(m, CommandQueued) for m in seen), "CommandQueued")
        await pilot.press("ctrl+end", "r")  # a GRPO run has no checkpoint of its own to re-triage: nothing sent
        await pilot.press("up", "a", "r")  # acknowledge and re-triage sft-a@checkpoint-200
        await wait_for(pilot, lambda: sum(isinstance(m, CommandQueued) for m in seen) == 3, "three commands")
        expected = [("pin", "grpo-good", "tui"), ("ack", "sft-a", "tui"), ("retriage", "sft-a", "tui")]
        assert pending(app) == expected
        with writer(app) as store:
            commands = [c.command for c in store.pending_commands()]
        flag = store_verdict_id(app, "sft-a")
        assert commands[1] == Command(CommandKind.ACK, "sft-a", TRIAGE_CKPT, flag)
        assert commands[2] == Command(CommandKind.RETRIAGE, "sft-a", TRIAGE_CKPT)


@sync
async def test_kill_needs_arming_and_confirmation(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("ctrl+end", "K")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)  # dry-run: the key is off
        assert app.main.check_action("kill", ()) is None
        with writer(app) as store:
            store.set_health(armed=True)  # the daemon reports it was armed
        await wait_for(pilot, lambda: app.main.armed, "armed in the status")
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "dialog closed")
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog again")
        await pilot.press("y")
        await wait_for(pilot, lambda: pending(app) == [("kill", "grpo-bad", "tui")], "one kill command")


@sync
async def test_arm_asks_first_then_writes_the_command(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        await pilot.press("escape")
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        await pilot.press("y")
        await wait_for(pilot, lambda: pending(app) == [("arm", None, "tui")], "the arm command")


@sync
async def test_readonly_session_writes_nothing(tmp_path: Path) -> None:
    app = app_for(tmp_path, readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        with writer(app) as store:
            store.set_health(armed=True)
        await wait_for(pilot, lambda: app.main.armed, "armed in the status")
        await pilot.press("c", "a", "r", "A", "K")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmScreen)
        assert all(app.main.check_action(a, ()) is None for a in ("kill", "pin", "ack", "arm", "retriage"))
        assert pending(app) == []
        assert "read-only" in str(app.main.query_one(StatusBar).render())


@sync
async def test_no_daemon_mode_is_read_only(tmp_path: Path) -> None:
    app = app_for(tmp_path, no_daemon=True, manage_daemon=None)
    assert app.readonly and not app.manage_daemon


@sync
async def test_filter_and_sort(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("slash", *"kill", "enter")
        await wait_for(pilot, lambda: subjects(app) == ["grpo-bad"], "only the KILL row")
        assert "1/4 rows" in str(app.main.query_one(StatusBar).render())
        await pilot.press("slash", "ctrl+u", "enter")  # clear the filter
        await wait_for(pilot, lambda: len(subjects(app)) == 4, "all rows back")
        await pilot.press("s")  # first column: run name, ascending
        await wait_for(pilot, lambda: table(app).sort_key == "run", "sorted by run")
        assert subjects(app) == sorted(RANKED)
        await pilot.click(CandidatesTable, offset=(2, 0))  # clicking the same header reverses
        await wait_for(pilot, lambda: table(app).sort_reverse, "reversed by header click")
        assert subjects(app) == sorted(RANKED, reverse=True)


@sync
async def test_detail_help_and_back(tmp_path: Path) -> None:
    seen: list[Message] = []
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 40), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("ctrl+end", "enter")
        await wait_for(pilot, lambda: any(isinstance(m, DetailLoaded) for m in seen), "DetailLoaded")
        assert isinstance(app.screen, DetailScreen)
        detail = next(m for m in seen if isinstance(m, DetailLoaded)).detail
        assert detail.candidate.subject == "grpo-bad" and detail.actions[0].dry_run
        entropy = app.screen.query_one("#curve-entropy", CurvePlot)
        await wait_for(pilot, lambda: entropy.series is not None, "the entropy curve")
        assert entropy.window == (10, 150) and entropy.threshold == pytest.approx(0.4 * (1 - 0.64 / 15) * 0.5)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: app.screen is app.main, "back on the main screen")


@sync
async def test_new_kill_raises_a_terminal_alert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TMUX", "KITTY_WINDOW_ID", "VTE_VERSION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM_PROGRAM", "WezTerm")
    seen: list[Message] = []
    app = app_for(tmp_path, alerts_on=True)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED and app.alert_channel.protocol == "osc9", "ready")
        assert app.alerts_sent == []  # verdicts already there at start do not alert
        with writer(app) as store:
            store.put_verdict("grpo-good", None, step=170, decision="KILL", confidence=0.9, stage="2",
                              summary="zero-std 0.95 > 0.90 for 20 steps", reasons=[])
        await wait_for(pilot, lambda: any(isinstance(m, AlertSent) for m in seen), "AlertSent")
        issued = [m for m in seen if isinstance(m, VerdictIssued)]
        assert [m.candidate.run for m in issued] == ["grpo-good"]
        assert app.alerts_sent == [b"\x1b]9;rankinv \xe2\x9c\x96 KILL grpo-good: zero-std 0.95 > 0.90 for 20 steps\x07"]


@sync
async def test_missing_store_is_reported_then_picked_up(tmp_path: Path) -> None:
    seen: list[Message] = []
    path = tmp_path / "later.sqlite"
    app = make_app(tmp_path, store_path=path, manage_daemon=False, alerts_on=False, poll_interval=0.05)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: any(isinstance(m, StoreUnavailable) for m in seen), "StoreUnavailable")
        assert "no store yet" in str(app.main.query_one(StatusBar).render())
        make_store(path)
        await wait_for(pilot, lambda: subjects(app) == RANKED, "rows once the daemon created the store")
        assert "no store yet" not in str(app.main.query_one(StatusBar).render())


@sync
async def test_with_the_real_daemon_keys_act_and_quitting_leaves_it_running(tmp_path: Path) -> None:
    from rankinv.daemon import control

    root, state = tmp_path / "runs", tmp_path / "state"
    append(make_run(root / "grpo"), "".join(record(step) for step in range(1, 40)))
    seen: list[Message] = []
    app = make_app(root, state_dir=state, alerts_on=False, poll_interval=0.05)
    try:
        async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
            await wait_for(pilot, lambda: any(isinstance(m, DaemonAttached) for m in seen), "DaemonAttached", 60)
            await wait_for(pilot, lambda: subjects(app) == ["grpo"] and table(app).shown[0].verdict, "a verdict", 60)
            await pilot.press("c")  # pin continue: the daemon consumes the command and sets the flag
            await wait_for(pilot, lambda: table(app).shown[0].pinned, "the daemon's pin shown", 60)
            assert any(str(cell).endswith("CONTINUE pin") or " pin" in str(cell) for cell in table(app).get_row_at(0))
            await pilot.press("q")
        status = control.status(root, state_base=state)
        assert status.running and status.pid is not None
        assert next(m for m in seen if isinstance(m, DaemonAttached)).status == f"started, pid {status.pid}"
    finally:
        control.stop(root, state_base=state)
    assert not control.status(root, state_base=state).running


@sync
async def test_no_color_keeps_the_verdict_symbols(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_for(tmp_path)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        cells = [str(c) for c in table(app).get_row_at(3)]
        assert "✖ KILL ⚑" in cells  # killed, and started from a flagged checkpoint


@sync
async def test_a_changed_prediction_reorders_rows_and_the_cursor_follows(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await pilot.press("down")  # the cursor on sft-a@checkpoint-100
        with writer(app) as store:
            store.put_prediction("grpo-bad", None, step=170, value=0.95, lo=0.9, hi=1.0, basis="fitted")
        expected = ["grpo-bad", *RANKED[:3]]
        await wait_for(pilot, lambda: subjects(app) == expected, "grpo-bad moved to the top")
        assert [str(table(app).get_row_at(i)[0]) for i in range(4)] == [
            "grpo-bad", "grpo-good", "sft-a@ckpt-100", "sft-a@ckpt-200",
        ]
        assert "0.95±0.05" in [str(cell) for cell in table(app).get_row_at(0)]
        assert table(app).selected is not None and table(app).selected.subject == RANKED[1]


@sync
async def test_a_crashed_store_reader_is_reported_and_restarted(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        with writer(app) as store:  # a corrupt JSON document the reader cannot decode (not a StoreError)
            store.conn.execute("UPDATE runs SET manifest = '{not json' WHERE name = 'grpo-bad'")
            store.upsert_run("grpo-late", "/runs/grpo-late", kind="grpo")
        status = app.main.query_one(StatusBar)
        await wait_for(pilot, lambda: "store reader failed" in str(status.render()), "the failure said")
        with writer(app) as store:
            store.conn.execute("UPDATE runs SET manifest = NULL WHERE name = 'grpo-bad'")
        await wait_for(pilot, lambda: "grpo-late" in subjects(app), "the restarted reader's rows")


@sync
async def test_the_job_column_follows_what_the_daemon_heard_from_slurm(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        job = [c.key for c in table(app).columns_shown].index("job")
        with writer(app) as store:
            store.set_job_states({"grpo-good": ("4101", "RUNNING", "gpu01", 125.0)}, time.time())
        await wait_for(pilot, lambda: str(table(app).get_row_at(0)[job]) == "4101 R 2:05 gpu01", "the job's state")
        with writer(app) as store:
            store.set_job_states({"grpo-good": ("4101", "slurm?", None, None)}, time.time())
        await wait_for(pilot, lambda: str(table(app).get_row_at(0)[job]) == "4101 slurm?", "Slurm unanswered")


@sync
async def test_a_header_message_without_its_widget_neither_crashes_nor_spins(tmp_path: Path) -> None:
    """The workers start with the app: their messages can land while the header's widgets are not mounted (at
    start-up under load, or as the app closes). The app stays up and exits cleanly (run_test re-raises any
    exception a handler raised); the warnings land once the bar is there again."""
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: subjects(app) == RANKED, "the ranked rows")
        await app.main.query_one(ContextBar).remove()
        app.post_message(ContextChecked(("late warning",)))
        await pilot.pause(0.2)
        assert app.is_running and not app.main.query(ContextBar)
        await app.main.mount(ContextBar())
        app.post_message(ContextChecked(("late warning",)))
        await wait_for(pilot, lambda: app.main.query_one(ContextBar).warnings == ("late warning",), "the warning")
