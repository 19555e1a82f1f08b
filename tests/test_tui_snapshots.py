"""TUI tier 3: pixel-stable screenshots (pytest-textual-snapshot) at fixed terminal sizes.

The store is seeded with a frozen clock and the app gets the same clock, so every "time ago" is fixed.
Update after a deliberate change with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at
the SVGs before committing them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rankinv.tui.app import RankinvApp, make_app
from rankinv.tui.screens.detail import DetailScreen
from textual.pilot import Pilot

from tests.support.tui_seed import FROZEN, make_store


@pytest.fixture(autouse=True)
def _colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)  # the app reads it at start; the SVGs are in colour


def _app(tmp_path: Path) -> RankinvApp:
    """The root is the seed's own ``/runs`` (not the random tmp path): the header prints it."""
    store = make_store(tmp_path / "store.sqlite")
    return make_app("/runs", store_path=store, manage_daemon=False, alerts_on=False, clock=lambda: FROZEN + 90)


async def _until(pilot: Pilot[None], condition: Callable[[], object]) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, "the app never reached the state to photograph"
        await pilot.pause(0.05)


def _loaded(app: RankinvApp) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        await _until(pilot, lambda: app.main.snapshot is not None)
        await pilot.pause()

    return run_before


def _detail_of_last_row(app: RankinvApp) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        await _until(pilot, lambda: app.main.snapshot is not None)
        await pilot.press("ctrl+end", "enter")
        await _until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None)
        await pilot.pause()

    return run_before


def _marked_two(app: RankinvApp) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        await _until(pilot, lambda: bool(app.main.rows.curves))
        await pilot.press("space", "G", "space")  # grpo-good and grpo-bad overlaid
        await _until(pilot, lambda: len(app.main.query_one("#charts").runs) == 2)  # type: ignore[attr-defined]
        await pilot.pause()

    return run_before


def _curves_loaded(app: RankinvApp) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        await _until(pilot, lambda: bool(app.main.rows.curves))
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_main_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=_curves_loaded(app))


def test_main_screen_overlay(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)
    assert snap_compare(app, terminal_size=(160, 45), run_before=_marked_two(app))


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_detail_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=_detail_of_last_row(app))


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"], run_before=_loaded(app))


def test_confirm_dialog(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), press=["A"], run_before=_loaded(app))
