"""The TUI takes the collector's full passes out of its frames and gives everything back when it stops.

Oracle: CPython's own gc state (thresholds, freeze count) and its callbacks, which report each pass's generation.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from rankinv.tui.gcpause import DUE, NEVER, Collector

from tests.test_tui_pilot import app_for, sync, wait_for


def _full_passes(run: Any) -> int:
    seen: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            seen.append(1)

    gc.callbacks.append(note)
    try:
        run()
    finally:
        gc.callbacks.remove(note)
    return len(seen)


def test_full_passes_wait_for_a_drawn_frame_and_all_is_restored() -> None:
    before = gc.get_threshold()
    c = Collector()
    try:
        c.first_frame()
        assert gc.get_threshold() == (before[0], before[1], NEVER) and gc.get_freeze_count() > 0
        while gc.get_count()[2] < DUE:  # younger passes until a full one is due
            gc.collect(1)
        assert _full_passes(c.frame_drawn) == 1 and gc.get_count()[2] == 0
        assert _full_passes(c.frame_drawn) == 0  # not due again yet
    finally:
        c.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


@sync
async def test_the_app_restores_the_collector_when_it_stops(tmp_path: Path) -> None:
    before = gc.get_threshold()
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: gc.get_threshold()[2] == NEVER, "the first frame")
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
