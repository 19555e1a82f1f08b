"""The one-shot command's rare cyclic collections: in force inside the block, the old thresholds back after it,
also when the block raises."""

from __future__ import annotations

import gc

import pytest
from rankinv.daemon.gcpause import FIRST, rare_collections


def test_collections_are_rare_inside_and_as_before_after() -> None:
    before = gc.get_threshold()
    with rare_collections():
        assert gc.get_threshold() == (FIRST, *before[1:])
        assert gc.isenabled()  # still collected: cycles are freed, memory stays bounded
    assert gc.get_threshold() == before
    with pytest.raises(KeyError), rare_collections():
        raise KeyError("a failing command")
    assert gc.get_threshold() == before


def test_cycles_are_still_collected_inside() -> None:
    """More cyclic garbage than the raised threshold allows is collected inside the block (memory stays bounded)."""
    seen: list[int] = []

    def counted(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            seen.append(info["collected"])

    gc.collect()
    gc.callbacks.append(counted)
    try:
        with rare_collections():
            for _ in range(FIRST // 2 + 1):  # two container objects per cycle: more than FIRST in all
                a: list[object] = []
                b: list[object] = [a]
                a.append(b)
            del a, b
    finally:
        gc.callbacks.remove(counted)
    assert sum(seen) >= FIRST // 2  # collected while the block ran, not left for later
