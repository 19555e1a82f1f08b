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
