"""Stat-polling lists a directory again only when it may have changed, and still reports every change.

Counted (directory listings per scan), never timed. Directory mtimes are set into the past with ``os.utime``, as
those of a runs root that has not changed for a while are.
"""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

import pytest
from rankinv.daemon import polling
from rankinv.daemon.fswatch import FsEvent
from rankinv.daemon.polling import RELIST_EVERY, PollWatcher


def _age(path: Path, seconds: float = 60.0) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _drain(events: queue.SimpleQueue[FsEvent]) -> set[str]:
    out = set()
    while not events.empty():
        out.add(events.get().path)
    return out


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = polling._signature

    def counted(directory: str, stats: polling.Stats, known: polling.Known
                ) -> tuple[polling.Signature, frozenset[str]] | None:  # fmt: skip
        seen.append(directory)
        return real(directory, stats, known)

    monkeypatch.setattr(polling, "_signature", counted)
    return seen


def _no_listing_in(watcher: PollWatcher, dirs: list[Path], scans: int) -> None:
    """Move the watcher's scan count to where none of ``dirs`` has its staggered full listing (scandir, not
    ``lstat``) in the next ``scans`` scans while it is scanned every scan."""
    phases = [watcher.pace[str(d)].phase for d in dirs]
    watcher.scans = next(s for s in range(RELIST_EVERY)
                         if all((s + j + p) % RELIST_EVERY for p in phases for j in range(1, scans + 1)))  # fmt: skip


def _runs(tmp_path: Path, n: int) -> list[Path]:
    dirs = []
    for i in range(n):
        d = tmp_path / f"run-{i}"
        d.mkdir()
        (d / "train.jsonl").write_text("{}\n")
        (d / "rankinv-run.json").write_text("{}")
        _age(d)
        dirs.append(d)
    return dirs


def test_unchanged_directories_are_not_listed_again(tmp_path: Path, listings: list[str]) -> None:
    dirs = _runs(tmp_path, 20)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher = PollWatcher(events, 3600)
    for d in dirs:
        watcher.add(d)
    listings.clear()
    scans = 3 * RELIST_EVERY
    for _ in range(scans):
        assert watcher.scan() == 0
    assert len(listings) == scans * len(dirs) // RELIST_EVERY  # only the staggered full listings


def test_a_recently_changed_directory_is_listed_every_scan(tmp_path: Path, listings: list[str]) -> None:
    (d,) = _runs(tmp_path, 1)
    os.utime(d)  # changed just now: an entry made in the same tick would not change the mtime again
    watcher = PollWatcher(queue.SimpleQueue(), 3600)
    watcher.add(d)
    listings.clear()
    for _ in range(5):
        watcher.scan()
    assert len(listings) == 5


def test_appends_new_files_and_removals_are_reported(tmp_path: Path) -> None:
    (d,) = _runs(tmp_path, 1)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher = PollWatcher(events, 3600)
    watcher.add(d)
    with (d / "train.jsonl").open("a") as f:
        f.write("{}\n")
    watcher.scan()
    assert _drain(events) == {str(d / "train.jsonl")}  # from the known entries alone: the folder did not change
    (d / "stdout.log").write_text("x\n")
    (d / "rankinv-run.json").unlink()
    watcher.scan()
    assert _drain(events) == {str(d / "stdout.log"), str(d / "rankinv-run.json")}


def test_a_new_file_hidden_by_an_unchanged_mtime_is_found_by_the_periodic_listing(tmp_path: Path) -> None:
    """An entry created in the same timestamp tick as the listing before leaves the folder's mtime as it was
    (forced here with utime): the staggered full listing still finds it within RELIST_EVERY scans."""
    (d,) = _runs(tmp_path, 1)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher = PollWatcher(events, 3600)
    watcher.add(d)
    mtime = os.stat(d).st_mtime_ns
    (d / "late.jsonl").write_text("{}\n")
    os.utime(d, ns=(mtime, mtime))
    found = set()
    for _ in range(RELIST_EVERY):
        watcher.scan()
        found |= _drain(events)
    assert found == {str(d / "late.jsonl")}


def test_a_watched_subfolder_is_stat_ed_once_per_scan_and_its_changes_still_reach_the_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    dirs = _runs(tmp_path, 5)
    _age(tmp_path, 10)  # changed 10 s ago: not quiet (a root unchanged for a minute would be, from the start)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher = PollWatcher(events, 3600)
    for d in (tmp_path, *dirs):
        watcher.add(d)
    calls = _counting_lstat(monkeypatch)
    _no_listing_in(watcher, [tmp_path, *dirs], 1)
    watcher.scan()
    assert sorted(calls) == sorted(str(d / n) for d in dirs for n in ("rankinv-run.json", "train.jsonl"))
    (dirs[2] / "new.jsonl").write_text("{}\n")  # the run folder's mtime changes: the root's entry for it too
    watcher.scan()
    assert _drain(events) == {str(dirs[2] / "new.jsonl"), str(dirs[2])}


class _Clock:
    """The watcher's clock, moved by the test (quiet is decided by it, never by waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _quiet_watcher(dirs: list[Path], events: queue.SimpleQueue[FsEvent]) -> tuple[PollWatcher, _Clock]:
    watcher, clock = PollWatcher(events, 3600), _Clock()
    watcher.clock = clock
    for d in dirs:
        watcher.add(d)
    watcher.scan()
    clock.now += polling.QUIET_SECONDS  # nothing changed for that long
    return watcher, clock


def _counting(monkeypatch: pytest.MonkeyPatch, call: str) -> list[str]:
    """The paths ``polling``'s ``os.<call>`` (``stat`` or ``lstat``) is given from now on."""
    calls: list[str] = []
    real = getattr(os, call)

    def counted(path: str) -> os.stat_result:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(polling.os, call, counted)
    return calls


def _counting_lstat(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return _counting(monkeypatch, "lstat")


def _lstats_over(watcher: PollWatcher, monkeypatch: pytest.MonkeyPatch, scans: int,
                 dirs: list[Path]) -> tuple[dict[str, int], set[str]]:  # fmt: skip
    """``scans`` scans that report nothing: each path's ``lstat`` count, and the runs' files."""
    calls = _counting_lstat(monkeypatch)
    for _ in range(scans):
        assert watcher.scan() == 0
    per_entry: dict[str, int] = {}
    for path in calls:
        per_entry[path] = per_entry.get(path, 0) + 1
    return per_entry, {str(d / n) for d in dirs for n in ("rankinv-run.json", "train.jsonl")}


def test_quiet_directories_are_stat_ed_every_few_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs = _runs(tmp_path, 40)
    watcher, _ = _quiet_watcher(dirs, queue.SimpleQueue())
    scans = 3 * polling.QUIET_EVERY * RELIST_EVERY
    per_entry, files = _lstats_over(watcher, monkeypatch, scans, dirs)
    assert set(per_entry) == files  # every entry still checked ...
    # ... once per QUIET_EVERY scans (the full listings, every RELIST_EVERY of those, stat through scandir)
    assert all(n <= scans // polling.QUIET_EVERY for n in per_entry.values())
    assert sum(per_entry.values()) >= len(files) * scans // polling.QUIET_EVERY // 2


def _append_and_scan(dirs: list[Path], watcher: PollWatcher, events: queue.SimpleQueue[FsEvent],
                     scans: int = polling.QUIET_EVERY) -> dict[str, int]:  # fmt: skip
    """Append a line to every run's log, then scan ``scans`` times: the scan (1-based) each log was first
    reported in."""
    for d in dirs:
        with (d / "train.jsonl").open("a") as f:
            f.write("{}\n")
    seen: dict[str, int] = {}
    for n in range(1, scans + 1):
        watcher.scan()
        for path in _drain(events):
            seen.setdefault(path, n)
    return seen


@pytest.mark.parametrize("delay", range(polling.QUIET_EVERY + 1))
def test_an_append_to_a_quiet_run_is_seen_within_the_bound(tmp_path: Path, delay: int) -> None:
    """Whatever each folder's place in the stagger and whenever the append lands, it is reported within
    QUIET_EVERY scans; then the folder is scanned every scan again."""
    dirs = _runs(tmp_path, 12)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, clock = _quiet_watcher(dirs, events)
    for _ in range(delay):
        watcher.scan()
    seen = _append_and_scan(dirs, watcher, events)
    assert set(seen) == {str(d / "train.jsonl") for d in dirs}
    assert max(seen.values()) <= polling.QUIET_EVERY
    clock.now += 1  # changed a moment ago: scanned every scan
    with (dirs[0] / "train.jsonl").open("a") as f:
        f.write("{}\n")
    watcher.scan()
    assert _drain(events) == {str(dirs[0] / "train.jsonl")}


def test_quiet_folders_are_still_listed_again_now_and_then(tmp_path: Path) -> None:
    """A file whose creation left its folder's mtime as it was (utime) is found in a quiet folder too, by the
    full listing every RELIST_EVERY of its scans."""
    (d,) = _runs(tmp_path, 1)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, _ = _quiet_watcher([d], events)
    mtime = os.stat(d).st_mtime_ns
    (d / "late.jsonl").write_text("{}\n")
    os.utime(d, ns=(mtime, mtime))
    found = set()
    for _ in range(polling.QUIET_EVERY * RELIST_EVERY):
        watcher.scan()
        found |= _drain(events)
    assert found == {str(d / "late.jsonl")}


def test_a_quiet_root_still_reports_a_new_run(tmp_path: Path) -> None:
    dirs = _runs(tmp_path, 3)
    _age(tmp_path)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, _ = _quiet_watcher([tmp_path, *dirs], events)
    (tmp_path / "run-new").mkdir()
    found = set()
    for _ in range(polling.QUIET_EVERY):
        watcher.scan()
        found |= _drain(events)
    assert str(tmp_path / "run-new") in found


def _old_runs(tmp_path: Path, n: int, seconds: float = 600.0) -> list[Path]:
    """Runs whose every file and folder was last changed ``seconds`` ago (a root the daemon starts on; by
    default quiet, not yet dormant)."""
    dirs = _runs(tmp_path, n)
    for d in dirs:
        for entry in (d / "train.jsonl", d / "rankinv-run.json", d):
            _age(entry, seconds)
    return dirs


def _added(dirs: list[Path], events: queue.SimpleQueue[FsEvent]) -> tuple[PollWatcher, _Clock]:
    """A watcher that has just added the folders (no scan yet, its clock not moved)."""
    watcher, clock = PollWatcher(events, 3600), _Clock()
    watcher.clock = clock
    for d in dirs:
        watcher.add(d)
    return watcher, clock


def test_runs_unchanged_for_a_minute_before_start_are_quiet_from_the_first_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    dirs = _old_runs(tmp_path, 40)
    watcher, _ = _added(dirs, queue.SimpleQueue())
    calls = _counting_lstat(monkeypatch)
    scans = polling.QUIET_EVERY * RELIST_EVERY
    for _ in range(scans):
        assert watcher.scan() == 0
    per_entry: dict[str, int] = {}
    for path in calls:
        per_entry[path] = per_entry.get(path, 0) + 1
    assert len(per_entry) == 2 * len(dirs)  # every entry still checked, once per QUIET_EVERY scans
    assert all(n <= scans // polling.QUIET_EVERY for n in per_entry.values())


@pytest.mark.parametrize("delay", range(polling.QUIET_EVERY + 1))
def test_an_append_to_a_run_quiet_before_start_is_seen_within_the_bound(tmp_path: Path, delay: int) -> None:
    """Quiet at once, yet an append is reported within QUIET_EVERY scans wherever the folder sits in the stagger
    and whenever it lands (the first scan included); then the folder is scanned every scan."""
    dirs = _old_runs(tmp_path, 12)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, clock = _added(dirs, events)
    for _ in range(delay):
        assert watcher.scan() == 0
    seen = _append_and_scan(dirs, watcher, events)
    assert set(seen) == {str(d / "train.jsonl") for d in dirs}
    assert max(seen.values()) <= polling.QUIET_EVERY
    assert min(seen.values()) == 1  # the stagger spreads the folders: some are due in the first scan
    clock.now += 1
    assert _append_and_scan(dirs, watcher, events, 1) == {str(d / "train.jsonl"): 1 for d in dirs}  # every scan now


def test_a_run_changed_within_the_minute_before_start_is_scanned_every_scan_until_quiet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A log written 30 s before start: its folder is scanned every scan until a minute after that write (by the
    watcher's clock, 30 s after start), then every QUIET_EVERY scans."""
    dirs = _old_runs(tmp_path, 8)
    log = dirs[0] / "train.jsonl"
    _age(log, 30)
    watcher, clock = _added(dirs, queue.SimpleQueue())
    calls = _counting_lstat(monkeypatch)

    def stats_of_log(scans: int) -> int:
        before = calls.count(str(log))
        for _ in range(scans):
            watcher.scan()
        return calls.count(str(log)) - before

    _no_listing_in(watcher, [dirs[0]], 2 * polling.QUIET_EVERY)  # in the scans counted first
    assert stats_of_log(polling.QUIET_EVERY) == polling.QUIET_EVERY
    clock.now += polling.QUIET_SECONDS - 30 - 1
    assert stats_of_log(polling.QUIET_EVERY) == polling.QUIET_EVERY
    clock.now += 2
    assert stats_of_log(3 * polling.QUIET_EVERY) <= 3


def test_an_mtime_in_the_future_counts_as_a_change_now(tmp_path: Path) -> None:
    """A file server's clock ahead of ours: the folder is not taken for quiet."""
    dirs = _old_runs(tmp_path, 4)
    _age(dirs[1] / "train.jsonl", -3600)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, _ = _added(dirs, events)
    for _ in range(polling.QUIET_EVERY):
        with (dirs[1] / "train.jsonl").open("a") as f:
            f.write("{}\n")
        watcher.scan()
        assert _drain(events) == {str(dirs[1] / "train.jsonl")}


def test_runs_unchanged_for_an_hour_before_start_are_dormant_from_the_first_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    dirs = _old_runs(tmp_path, 45, seconds=2 * polling.DORMANT_SECONDS)
    watcher, _ = _added(dirs, queue.SimpleQueue())
    scans = 2 * polling.DORMANT_EVERY
    per_entry, files = _lstats_over(watcher, monkeypatch, scans, dirs)
    assert set(per_entry) <= files
    # every entry still checked (by lstat, or by the listing every RELIST_EVERY of its folder's scans) ...
    listed = {d for d in dirs if (watcher.pace[str(d)].phase + 1) % RELIST_EVERY == 0
              or (watcher.pace[str(d)].phase + 2) % RELIST_EVERY == 0}  # fmt: skip
    assert {str(d / n) for d in set(dirs) - listed for n in ("rankinv-run.json", "train.jsonl")} <= set(per_entry)
    assert all(n <= scans // polling.DORMANT_EVERY for n in per_entry.values())  # ... once per DORMANT_EVERY


def test_a_scan_visits_only_the_directories_due_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dormant folders are spread over the scans: each scan stats about one in DORMANT_EVERY of them, and every
    one exactly once in DORMANT_EVERY scans."""
    dirs = _old_runs(tmp_path, 60, seconds=2 * polling.DORMANT_SECONDS)
    watcher, _ = _added(dirs, queue.SimpleQueue())
    watcher.scan()  # the first scan puts every folder in its place
    stat_ed = _counting(monkeypatch, "stat")
    per_scan = []
    for _ in range(polling.DORMANT_EVERY):
        before = len(stat_ed)
        watcher.scan()
        per_scan.append(len(stat_ed) - before)
    assert sorted(stat_ed) == sorted(str(d) for d in dirs)  # each folder once
    assert max(per_scan) < len(dirs) // 2  # spread, not all in one scan


@pytest.mark.parametrize("delay", range(0, polling.DORMANT_EVERY + 1, 2))
def test_an_append_to_a_dormant_run_is_seen_within_the_dormant_bound(tmp_path: Path, delay: int) -> None:
    """Runs unchanged for an hour before start: an append is reported within DORMANT_EVERY scans wherever the
    folder sits in the stagger and whenever it lands; then the folder is scanned every scan."""
    dirs = _old_runs(tmp_path, 20, seconds=2 * polling.DORMANT_SECONDS)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, clock = _added(dirs, events)
    for _ in range(delay):
        assert watcher.scan() == 0
    seen = _append_and_scan(dirs, watcher, events, polling.DORMANT_EVERY)
    assert set(seen) == {str(d / "train.jsonl") for d in dirs}
    assert max(seen.values()) <= polling.DORMANT_EVERY
    assert max(seen.values()) > polling.QUIET_EVERY  # the longer bound is used: some wait longer than QUIET_EVERY
    clock.now += 1
    assert _append_and_scan(dirs, watcher, events, 1) == {str(d / "train.jsonl"): 1 for d in dirs}  # every scan now


def test_a_folder_turns_dormant_only_after_an_hour_without_change(tmp_path: Path) -> None:
    """By the watcher's clock: a run written a minute ago keeps the QUIET_EVERY bound until an hour has passed
    since its last change seen, then gets the DORMANT_EVERY one; a change brings it back to every scan."""
    dirs = _runs(tmp_path, 12)  # files written just now
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, clock = _quiet_watcher(dirs, events)
    clock.now += polling.DORMANT_SECONDS - polling.QUIET_SECONDS - 10  # 10 s short of an hour
    seen = _append_and_scan(dirs, watcher, events)
    assert set(seen) == {str(d / "train.jsonl") for d in dirs}
    assert max(seen.values()) <= polling.QUIET_EVERY  # those appends made them every-scan again
    clock.now += polling.DORMANT_SECONDS + 1  # now an hour without change
    for _ in range(polling.DORMANT_EVERY):  # each folder is put in its dormant place
        assert watcher.scan() == 0
    assert all(watcher.pace[str(d)].due >= 0 for d in dirs)
    gaps = {watcher.pace[str(d)].due - watcher.scans for d in dirs}
    assert max(gaps) > polling.QUIET_EVERY and max(gaps) <= polling.DORMANT_EVERY


def test_a_dormant_root_still_reports_a_new_run_and_its_files(tmp_path: Path) -> None:
    dirs = _old_runs(tmp_path, 3, seconds=2 * polling.DORMANT_SECONDS)
    _age(tmp_path, 2 * polling.DORMANT_SECONDS)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, _ = _added([tmp_path, *dirs], events)
    watcher.scan()
    (tmp_path / "run-new").mkdir()
    found = set()
    for _ in range(polling.DORMANT_EVERY):
        watcher.scan()
        found |= _drain(events)
    assert str(tmp_path / "run-new") in found


def test_the_root_reuses_its_runs_own_stats_and_still_reports_their_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A quiet root's entries for watched run folders are never lstat-ed (each folder's own scan stats it), yet
    a run folder whose mtime changed is reported by the root too, when their scans fall in different passes."""
    dirs = _old_runs(tmp_path, 30)
    _age(tmp_path, 600)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, _ = _added([tmp_path, *dirs], events)
    calls = _counting_lstat(monkeypatch)
    for _ in range(2 * polling.QUIET_EVERY):
        assert watcher.scan() == 0
    assert not {str(d) for d in dirs} & set(calls)  # only files are lstat-ed
    root_phase = watcher.pace[str(tmp_path)].phase % polling.QUIET_EVERY
    other = next(d for d in dirs if watcher.pace[str(d)].phase % polling.QUIET_EVERY != root_phase)
    (other / "new.jsonl").write_text("{}\n")
    found = set()
    for _ in range(2 * polling.QUIET_EVERY):
        watcher.scan()
        found |= _drain(events)
    assert found == {str(other / "new.jsonl"), str(other)}


def test_a_discarded_quiet_folder_is_no_longer_scanned_and_can_be_added_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    dirs = _old_runs(tmp_path, 8)
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher, _ = _added(dirs, events)
    watcher.scan()
    watcher.discard(dirs[0])
    calls = _counting_lstat(monkeypatch)
    for _ in range(2 * polling.QUIET_EVERY):
        watcher.scan()
    assert not [c for c in calls if c.startswith(str(dirs[0]) + os.sep)]
    assert watcher.watched() == len(dirs) - 1
    watcher.add(dirs[0])
    with (dirs[0] / "train.jsonl").open("a") as f:
        f.write("{}\n")
    found = set()
    for _ in range(polling.QUIET_EVERY):
        watcher.scan()
        found |= _drain(events)
    assert found == {str(dirs[0] / "train.jsonl")}
