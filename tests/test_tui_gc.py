"""The TUI takes the collector's passes out of its frames and gives everything back when it stops.

Oracle: CPython's own gc state (thresholds, freeze count) and its callbacks, which report each pass's generation.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from rankinv.tui.gcpause import DUE, NEVER, YOUNG_LIMIT, Collector

from tests.test_tui_pilot import app_for, sync, wait_for


def _passes(run: Any) -> list[int]:
    """The generation of each pass the collector made while ``run`` ran."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            seen.append(info["generation"])

    gc.callbacks.append(note)
    try:
        run()
    finally:
        gc.callbacks.remove(note)
    return seen


def _full_passes(run: Any) -> int:
    return _passes(run).count(2)


def test_full_passes_wait_for_a_drawn_frame_and_all_is_restored() -> None:
    before = gc.get_threshold()
    c = Collector()
    try:
        c.first_frame()
        assert gc.get_threshold() == (YOUNG_LIMIT, before[1], NEVER) and gc.get_freeze_count() > 0
        while gc.get_count()[2] < DUE:  # younger passes until a full one is due
            gc.collect(1)
        assert _full_passes(c.frame_drawn) == 1 and gc.get_count()[2] == 0
        assert _full_passes(c.frame_drawn) == 0  # not due again yet
    finally:
        c.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_young_passes_wait_for_a_drawn_frame() -> None:
    """Allocations that would have started young passes start none until a frame is drawn; then the pass CPython
    would have run by its counts runs once (young, or the middle generation once ten young ones have run)."""
    before = gc.get_threshold()
    c = Collector()
    try:
        c.first_frame()
        kept: list[object] = []
        assert _passes(lambda: kept.extend([] for _ in range(5 * before[0]))) == []  # 5× the default threshold
        assert gc.get_count()[0] >= before[0]
        assert _passes(c.frame_drawn) == [0] and gc.get_count()[0] < before[0]
        assert _passes(c.frame_drawn) == []  # nothing due
        gc.collect(0)
        while gc.get_count()[1] < before[1]:  # young passes until a middle one is due
            gc.collect(0)
        assert _passes(c.frame_drawn) == [1]
    finally:
        c.stop()
    assert gc.get_threshold() == before


@sync
async def test_the_app_restores_the_collector_when_it_stops(tmp_path: Path) -> None:
    before = gc.get_threshold()
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: gc.get_threshold()[2] == NEVER, "the first frame")
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
