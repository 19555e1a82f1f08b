"""Keep the garbage collector's full passes out of the TUI's frames.

A full collection walks every object the process tracks: after start-up that is Textual, Rich, the widgets and the
first snapshot, several hundred thousand objects, and one such pass (70–80 ms at 1,000 runs) landed inside a
frame every ten updates or so. Two changes:

- what exists a second after the first frame is drawn lives as long as the app, so it is frozen (``gc.freeze``:
  moved out of the collector's generations); a full pass then walks only what came since (about 30 ms at 1,000
  runs);
- the collector no longer starts a full pass on its own: after a frame is drawn, the app runs one when the
  collector would have (``DUE`` younger passes since the last), in the time before the next update;
- the younger passes wait for a drawn frame too: an update of 1,000 runs allocates enough for seven or eight of
  them, and one of the middle generation (1.5–2 ms, it walks what the last ten young passes kept) landed in
  nearly every frame. After a frame the app runs the pass CPython would have run by now (by its own counts);
  the collector still starts one itself after ``YOUNG_LIMIT`` allocations, so a long stretch without frames
  cannot grow the heap without bound.

All is undone when the app stops, so a process that runs several apps (the tests) keeps neither frozen objects nor
the changed thresholds.
"""

from __future__ import annotations

import gc

DUE = 10  # younger (generation 1) passes between full ones: CPython's default third threshold
NEVER = 1 << 30
YOUNG_LIMIT = 20_000  # allocations before the collector runs a young pass itself (CPython: 700; an update: ~6,000)
START_DELAY = 1.0  # seconds after the first snapshot is shown: start-up's own work is done by then


class Collector:
    def __init__(self) -> None:
        self.started = False
        self._thresholds = gc.get_threshold()

    def first_frame(self) -> None:
        """Freeze what start-up built and take full passes over from the collector."""
        if self.started:
            return
        gc.collect()  # what start-up left as garbage is freed, not kept for the app's life
        gc.freeze()
        self._thresholds = gc.get_threshold()
        gc.set_threshold(max(YOUNG_LIMIT, self._thresholds[0]), self._thresholds[1], NEVER)
        self.started = True

    def frame_drawn(self) -> None:
        """The pass that is due, if one is, now that the frame is on screen: the oldest generation whose count
        passed its threshold (a full pass after ``DUE`` middle ones)."""
        if not self.started:
            return
        young, middle, _ = self._thresholds
        count = gc.get_count()
        if count[2] >= DUE:
            gc.collect()
        elif count[1] >= middle:
            gc.collect(1)
        elif count[0] >= young:
            gc.collect(0)

    def stop(self) -> None:
        if self.started:
            gc.set_threshold(*self._thresholds)
            gc.unfreeze()
            self.started = False
