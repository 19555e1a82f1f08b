"""In polling mode the daemon's full rescan is rare (``[daemon] poll_rescan_seconds``): the stat scans alone must
bring every kind of change to the store, and the rescan schedule must stay as it was under inotify.

The daemon's pieces are driven by explicit calls: ``PollWatcher.scan()`` one scan at a time and
``Pipeline.handle(paths)`` without ``rescan`` (the poll-driven path), and the main loop under a clock that
advances only by the timeouts it asks for. Nothing depends on wall-clock timing.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon import service as service_module
from rankinv.daemon.fswatch import INOTIFY, POLLING, FsEvent
from rankinv.daemon.pipeline import layout
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.polling import DORMANT_EVERY, DORMANT_SECONDS, PollWatcher
from rankinv.daemon.service import Service

from rankinv.config import Config
from rankinv.store import Store
from tests.support.fakelog import append, make_run, record, settled_checkpoint

RUNS = ("a", "b", "c", "d")


def _age(root: Path, seconds: float) -> None:
    """Every file and folder under ``root`` (and itself) last written ``seconds`` ago, as for runs long ended."""
    when = time.time() - seconds
    for path in [*root.rglob("*"), root]:
        os.utime(path, (when, when), follow_symlinks=False)


def _service(tmp_path: Path, mode: str, **daemon: Any) -> tuple[Service, Store]:
    config = Config()
    config = dataclasses.replace(config, daemon=dataclasses.replace(config.daemon, **daemon))
    store = Store.open(tmp_path / "store.sqlite")
    service = Service(tmp_path / "root", config, store, mode=mode, mode_reason="test", config_path=None,
                      state_dir=tmp_path / "state", act=False)  # fmt: skip
    return service, store


def _steps(store: Store, run: str) -> list[int]:
    series = store.series(run)
    return list(series["entropy"].steps) if "entropy" in series else []


@pytest.fixture
def dormant(tmp_path: Path) -> tuple[Service, Store, Path]:
    """A polling daemon over four runs of three records each, all written two hours before it started, after its
    first (start-up) pass; its watcher's thread is not started: the test scans."""
    root = tmp_path / "root"
    for name in RUNS:
        make_run(root / name)
        append(root / name, "".join(record(s) for s in (1, 2, 3)))
    _age(root, 2 * DORMANT_SECONDS)
    service, store = _service(tmp_path, POLLING)
    assert isinstance(service.watcher, PollWatcher)
    service.pipeline.handle(set(), rescan=True)  # what Service.run does first
    yield service, store, root
    service.close()
    store.close()


def _poll_until(service: Service, seen: Any, scans: int = DORMANT_EVERY) -> int:
    """Scan and hand the events to the pipeline, no full rescan, until ``seen()``; returns the scans it took."""
    watcher = service.watcher
    assert isinstance(watcher, PollWatcher)
    for n in range(1, scans + 1):
        watcher.scan()
        paths = set()
        while not service.events.empty():
            paths.add(service.events.get().path)
        if paths:
            service.pipeline.handle(paths)
        if seen():
            return n
    raise AssertionError(f"not seen within {scans} scans")


@pytest.fixture
def full_rescans(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the full rescan's work runs: the root's layout walk, and a run's catch-up (every log read from
    its offset), counted by wrapping the real functions."""
    counts = {"layout walk": 0, "catch-up": 0}
    scan, catch_up = layout.scan, Pipeline.catch_up

    def counted_scan(*args: Any, **kwargs: Any) -> Any:
        counts["layout walk"] += 1
        return scan(*args, **kwargs)

    def counted_catch_up(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        counts["catch-up"] += 1
        return catch_up(self, *args, **kwargs)

    monkeypatch.setattr(layout, "scan", counted_scan)
    monkeypatch.setattr(Pipeline, "catch_up", counted_catch_up)
    return counts


def test_the_start_up_pass_read_every_run(dormant: tuple[Service, Store, Path]) -> None:
    _, store, _ = dormant
    assert {name: _steps(store, name) for name in RUNS} == {name: [1, 2, 3] for name in RUNS}


def test_an_appended_line_is_stored_by_the_scans_alone(dormant: tuple[Service, Store, Path],
                                                       full_rescans: dict[str, int]) -> None:  # fmt: skip
    service, store, root = dormant
    append(root / "b", record(4))
    _poll_until(service, lambda: _steps(store, "b") == [1, 2, 3, 4])
    assert {name: _steps(store, name) for name in ("a", "c", "d")} == {name: [1, 2, 3] for name in ("a", "c", "d")}
    assert full_rescans == {"layout walk": 0, "catch-up": 0}  # an append to a known log: read directly


def test_a_truncated_and_rewritten_log_is_read_again_by_the_scans_alone(
        dormant: tuple[Service, Store, Path], full_rescans: dict[str, int]) -> None:  # fmt: skip
    service, store, root = dormant
    (root / "c" / "rankinv.jsonl").write_text(record(10) + record(11))  # a restarted run: shorter, new steps
    _poll_until(service, lambda: 10 in _steps(store, "c") and 11 in _steps(store, "c"))
    assert full_rescans["catch-up"] == 0


def test_a_log_replaced_by_a_new_file_is_read_by_the_scans_alone(dormant: tuple[Service, Store, Path],
                                                                 full_rescans: dict[str, int]) -> None:  # fmt: skip
    service, store, root = dormant
    log = root / "d" / "rankinv.jsonl"
    fresh = root / "d" / "rankinv.jsonl.new"
    fresh.write_text("".join(record(s) for s in (1, 2, 3, 4, 5)))
    os.replace(fresh, log)  # a new inode under the same name
    _poll_until(service, lambda: _steps(store, "d")[-2:] == [4, 5])
    assert full_rescans["catch-up"] == 0


def test_a_new_run_is_recorded_and_read_by_the_scans_alone(dormant: tuple[Service, Store, Path],
                                                           full_rescans: dict[str, int]) -> None:  # fmt: skip
    service, store, root = dormant
    make_run(root / "e")
    append(root / "e", record(1) + record(2))
    _poll_until(service, lambda: _steps(store, "e") == [1, 2])
    assert full_rescans["catch-up"] == 0  # the root's listing changed: its layout is walked, logs not re-read
    append(root / "e", record(3))  # the new run is watched from then on
    _poll_until(service, lambda: _steps(store, "e") == [1, 2, 3])


def test_a_deleted_run_is_marked_vanished_by_the_scans_alone(dormant: tuple[Service, Store, Path],
                                                             full_rescans: dict[str, int]) -> None:  # fmt: skip
    service, store, root = dormant
    shutil.rmtree(root / "a")

    def vanished() -> bool:
        record_ = store.run("a")
        return record_ is not None and record_.status == "vanished"

    _poll_until(service, vanished)
    assert full_rescans["catch-up"] == 0
    assert all(r.status != "vanished" for r in store.runs() if r.name != "a")


def test_a_new_checkpoint_is_recorded_by_the_scans_alone(dormant: tuple[Service, Store, Path],
                                                         full_rescans: dict[str, int]) -> None:  # fmt: skip
    service, store, root = dormant
    settled_checkpoint(root / "b" / "checkpoint-3")
    _poll_until(service, lambda: [c.step for c in store.checkpoints("b")] == [3])
    assert full_rescans["catch-up"] == 0


class _Clock:
    """The main loop's clock: it moves only when the loop waits, by exactly the timeout the loop asked for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def _drive(service: Service, monkeypatch: pytest.MonkeyPatch, seconds: float,
           events: dict[float, str] | None = None) -> list[tuple[float, bool, bool]]:  # fmt: skip
    """Run the real main loop for ``seconds`` of its clock, idle but for ``events`` (clock time → event kind);
    returns (time, rescan, sweep) of each pipeline pass."""
    clock = _Clock()
    start = clock.now
    monkeypatch.setattr(service_module, "time", clock)
    pending = dict(events or {})
    passes: list[tuple[float, bool, bool]] = []

    def collect(timeout: float) -> set[str]:
        due = [t for t in pending if t <= clock.now - start + timeout]
        if due:
            t = min(due)
            clock.now = start + max(t, clock.now - start)
            kind = pending.pop(t)
            return {service._path_of(FsEvent("", kind)) or ""}
        clock.now += timeout
        if clock.now - start >= seconds:
            service.halt.set()
        return set()

    def handle(paths: set[str], *, rescan: bool = False, sweep: bool = False) -> int:
        passes.append((clock.now - start, rescan, sweep))
        return 0

    monkeypatch.setattr(service, "_collect", collect)
    monkeypatch.setattr(service.pipeline, "handle", handle)
    monkeypatch.setattr(service, "_housekeeping", lambda: None)
    service._loop()
    return passes


@pytest.mark.parametrize(("mode", "settings", "every"), [
    (POLLING, {}, 600.0),  # the default poll_rescan_seconds
    (INOTIFY, {}, 60.0),  # inotify keeps its rescan every rescan_seconds: it can drop events
    (POLLING, {"poll_rescan_seconds": 120.0}, 120.0),
    (POLLING, {"rescan_seconds": 900.0}, 900.0),  # never more often than rescan_seconds asks
    (INOTIFY, {"poll_rescan_seconds": 5.0}, 60.0),  # the polling setting does not touch inotify
])  # fmt: skip
def test_the_full_rescan_period_by_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str,
                                        settings: dict[str, float], every: float) -> None:  # fmt: skip
    (tmp_path / "root").mkdir()
    service, store = _service(tmp_path, mode, **settings)
    try:
        assert service.rescan_every() == every
        passes = _drive(service, monkeypatch, 1801.0)
        rescans = [t for t, rescan, _ in passes if rescan]
        assert len(rescans) == 1800 // every  # (the loop's 10 ms floor on a wait may add 10 ms to a period)
        gaps = [b - a for a, b in zip([0.0, *rescans[:-1]], rescans, strict=True)]
        assert gaps == pytest.approx([every] * len(rescans), abs=0.05)
    finally:
        service.close()
        store.close()


def test_an_inotify_overflow_still_sweeps_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "root").mkdir()
    service, store = _service(tmp_path, INOTIFY)
    try:
        passes = _drive(service, monkeypatch, 100.0, {30.0: "overflow"})
        # the lost events: a rescan that re-inspects every run, then and there; the next one counts from it
        assert [(round(t), sweep) for t, rescan, sweep in passes if rescan] == [(30, True), (90, False)]
    finally:
        service.close()
        store.close()


def test_falling_back_to_polling_makes_the_rescan_rare(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    service, store = _service(tmp_path, INOTIFY)
    try:
        assert service.rescan_every() == 60.0
        service._fall_back("test")
        assert service.mode == POLLING and isinstance(service.watcher, PollWatcher)
        assert service.rescan_every() == 600.0
    finally:
        service.close()
        store.close()


def test_the_events_queue_is_the_service_s(tmp_path: Path) -> None:
    """The scans feed the queue the main loop reads (what :func:`_poll_until` relies on)."""
    (tmp_path / "root").mkdir()
    service, store = _service(tmp_path, POLLING)
    try:
        assert isinstance(service.events, queue.SimpleQueue)
        assert isinstance(service.watcher, PollWatcher) and service.watcher.events is service.events
    finally:
        service.close()
        store.close()
