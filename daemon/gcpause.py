"""Rare cyclic garbage collections while a one-shot command runs: what it builds lives until it ends.

A one-shot ``rankinv status`` of 10,000 new runs builds a few hundred thousand container objects that stay alive to
its end (records, sources, queued rows, outcomes, the table's rows), and CPython's cyclic collector walks them again
in every collection of the oldest generation: about a sixth of the scan's CPU (measured with ``gc.callbacks``: 1.2 s
of 6.5 s). With the youngest generation's threshold raised for the command, collections still run (cycles are still
freed, memory stays bounded: at most ``FIRST`` container objects, about 100 MB, wait for a collection) but far less
often; the thresholds are restored after. At 100,000 the 10,000-run status still spent 0.43-0.55 s in 77
collections that freed 677 objects, most of it in collections of the older generations (a batch's queued points
live long enough to reach them); at 1,000,000: 0.05-0.06 s, the same peak memory (213 MB), measured with
``gc.callbacks``.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

FIRST = 1_000_000  # allocations (net of frees) between collections of the youngest generation; CPython's default: 700


@contextlib.contextmanager
def rare_collections(first: int = FIRST) -> Iterator[None]:
    """Within this block, the youngest generation is collected ``first`` / 700 times less often."""
    old = gc.get_threshold()
    gc.set_threshold(first, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
