"""A one-shot pass frees the live monitors it built when it ends, by reference counting: they do not wait for the
cyclic collector (the brain and its history refer to each other, so the pass's objects form one cycle).

Oracle: weak references to every live monitor the pass built, with the cyclic collector off for the pass.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon.oneshot import scan_once
from rankinv.daemon.pipeline import live
from rankinv.daemon.serve import plan

from rankinv.store import ReadStore
from tests.support.fakelog import append, make_run, record


def test_the_live_monitors_are_freed_as_the_pass_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    for i in range(3):
        append(make_run(root / f"grpo-{i}"), "".join(record(s) for s in range(1, 12)))
    built: list[weakref.ref[live.LiveMonitor]] = []
    init = live.LiveMonitor.__init__

    def kept(self: live.LiveMonitor, *args: Any) -> None:
        init(self, *args)
        built.append(weakref.ref(self))

    monkeypatch.setattr(live.LiveMonitor, "__init__", kept)
    p = plan(root, state_base=tmp_path / "state")
    gc.disable()
    try:
        assert scan_once(p)
        alive = [r for r in built if r() is not None]
    finally:
        gc.enable()
    assert len(built) == 3 and not alive
    with ReadStore.open(p.store_path) as store:  # and the pass judged them all
        assert {c.run for c in store.snapshot().candidates if c.verdict} == {f"grpo-{i}" for i in range(3)}
