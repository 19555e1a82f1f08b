"""The daemon's watching layer in-process, against real temp directories: mount detection, the inotify and
polling watchers (threads stopped and joined: the autouse thread-leak fixture checks), and the layout scan
that never descends into checkpoint folders."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

import pytest
from rankinv.daemon.fswatch import INOTIFY, POLLING, FsEvent, InotifyWatcher, choose_mode
from rankinv.daemon.mounts import Mount, mount_of, parse_mountinfo
from rankinv.daemon.pipeline import layout
from rankinv.daemon.polling import PollWatcher
from rankinv.daemon.serve import network_store_warning

MOUNTINFO = r"""22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:40 / /scratch rw,relatime shared:20 - lustre 10.0.0.1@tcp:/scratch rw,flock
41 22 0:41 / /home rw,relatime shared:21 - nfs4 fs:/home rw,vers=4.2
42 41 0:42 / /home/me/sshfs\040mnt rw - fuse.sshfs me@host: rw
43 22 0:43 / /scratch2 rw - gpfs gpfs0 rw
malformed line without separator
"""


def test_mountinfo_longest_prefix_and_network_types() -> None:
    table = parse_mountinfo(MOUNTINFO)
    assert [m.fstype for m in table] == ["ext4", "lustre", "nfs4", "fuse.sshfs", "gpfs"]
    assert table[3].point == "/home/me/sshfs mnt"  # octal escape decoded
    cases = {"/scratch/runs/a": "lustre", "/home/me/runs": "nfs4", "/home/me/sshfs mnt/x": "fuse.sshfs",
             "/scratch2": "gpfs", "/scratchy/x": "ext4", "/tmp": "ext4"}  # fmt: skip
    for path, fstype in cases.items():
        found = mount_of(path, table)
        assert found is not None and found.fstype == fstype, path
    assert not Mount("/", "ext4").is_network
    assert all(Mount("/x", t).is_network for t in ("nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "fuse.sshfs"))


def test_watch_mode_is_chosen_from_the_mount_table(tmp_path: Path) -> None:
    nfs = [Mount("/", "ext4"), Mount(str(tmp_path), "nfs4")]
    mode, why = choose_mode(tmp_path, "auto", nfs)
    assert mode == POLLING and "nfs4" in why
    assert choose_mode(tmp_path, "auto", [Mount("/", "ext4")])[0] == INOTIFY
    assert choose_mode(tmp_path, "polling", [Mount("/", "ext4")])[0] == POLLING
    assert choose_mode(tmp_path, "inotify", nfs)[0] == INOTIFY  # the user's explicit choice wins
    assert choose_mode(tmp_path, "auto")[0] in (INOTIFY, POLLING)  # the real /proc/self/mountinfo parses


def test_a_store_on_a_network_filesystem_is_warned_about(tmp_path: Path) -> None:
    warning = network_store_warning(tmp_path, [Mount("/", "ext4"), Mount(str(tmp_path), "lustre")])
    assert warning is not None and "lustre" in warning and "--state-dir" in warning
    assert network_store_warning(tmp_path, [Mount("/", "ext4")]) is None


def _drain_until(events: queue.SimpleQueue[FsEvent], want: str, timeout: float = 10.0) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while want not in seen and time.monotonic() < deadline:
        try:
            seen.add(events.get(timeout=0.2).path)
        except queue.Empty:
            continue
    return seen


@pytest.mark.parametrize("kind", ["inotify", "polling"])
@pytest.mark.parametrize("name", [b"run", b"caf\xe9"])  # a Latin-1 folder name is no valid UTF-8
def test_watchers_report_appends_and_new_files_but_not_unwatched_subtrees(tmp_path: Path, kind: str,
                                                                          name: bytes) -> None:  # fmt: skip
    run = tmp_path / os.fsdecode(name)
    (run / "checkpoint-1").mkdir(parents=True)
    log = run / "train.log"
    log.write_text("start\n")
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher = InotifyWatcher(events) if kind == "inotify" else PollWatcher(events, 0.05)
    watcher.start()
    try:
        watcher.add(run)
        assert watcher.watched() == 1
        with log.open("a") as f:
            f.write("more\n")
        assert str(log) in _drain_until(events, str(log))
        (run / "checkpoint-1" / "shard.bin").write_bytes(b"x" * 10)  # inside an unwatched checkpoint
        (run / "new.jsonl").write_text("{}\n")
        seen = _drain_until(events, str(run / "new.jsonl"))
        assert str(run / "new.jsonl") in seen
        assert not any("shard.bin" in p for p in seen)
        watcher.discard(run)
        assert watcher.watched() == 0
    finally:
        watcher.stop()


def test_inotify_rewatches_a_recreated_directory(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    events: queue.SimpleQueue[FsEvent] = queue.SimpleQueue()
    watcher = InotifyWatcher(events)
    watcher.start()
    try:
        watcher.add(run)
        run.rmdir()
        deadline = time.monotonic() + 10
        while watcher.watched() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.watched() == 0  # the kernel dropped the watch; the watcher forgot it
        run.mkdir()
        watcher.add(run)
        (run / "a.log").write_text("x\n")
        assert str(run / "a.log") in _drain_until(events, str(run / "a.log"))
    finally:
        watcher.stop()


def test_layout_finds_runs_and_folders_without_entering_runs(tmp_path: Path) -> None:
    (tmp_path / "sweep" / "lr1" / "checkpoint-5").mkdir(parents=True)
    (tmp_path / "sweep" / "lr1" / "logs").mkdir()
    (tmp_path / "sweep" / "lr2").mkdir(parents=True)
    (tmp_path / "sweep" / "lr2" / "rankinv.jsonl").write_text("")
    (tmp_path / "empty-sweep").mkdir()
    (tmp_path / ".hidden" / "x").mkdir(parents=True)
    found = layout.scan(tmp_path)
    assert found.runs == {tmp_path / "sweep" / "lr1": "sweep/lr1", tmp_path / "sweep" / "lr2": "sweep/lr2"}
    assert set(found.folders) == {tmp_path, tmp_path / "sweep", tmp_path / "empty-sweep"}
    assert layout.run_watch_dirs(tmp_path / "sweep" / "lr1") == [tmp_path / "sweep" / "lr1",
                                                                tmp_path / "sweep" / "lr1" / "logs"]  # fmt: skip
    deep = tmp_path / "sweep" / "lr1" / "checkpoint-5" / "x.bin"
    assert layout.owner(deep, found.runs, tmp_path) == tmp_path / "sweep" / "lr1"
    assert layout.owner(tmp_path / "sweep" / "new", found.runs, tmp_path) is None


class _InotifyWithTinyLimit(InotifyWatcher):
    """A stand-in for the kernel's ``fs.inotify.max_user_watches`` (raising the real limit would disturb every
    other process on the machine): a real inotify watcher that refuses its third watch with ENOSPC."""

    def add(self, directory: Path) -> None:
        if self.watched() >= 2:
            import errno

            from rankinv.daemon.fswatch import InotifyLimit

            raise InotifyLimit(errno.ENOSPC, "inotify watch limit reached")
        super().add(directory)


def test_inotify_limit_switches_to_polling_once_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from rankinv.daemon.service import Service

    from rankinv.config import Config
    from rankinv.store import Store

    root = tmp_path / "root"
    for name in ("a", "b", "c"):
        (root / name).mkdir(parents=True)
        (root / name / "rankinv.jsonl").write_text("")
    store = Store.open(tmp_path / "store.sqlite")
    service = Service(root, Config(), store, mode=INOTIFY, mode_reason="test", config_path=None, state_dir=tmp_path)
    service.watcher = _InotifyWithTinyLimit(service.events)
    try:
        service.start()
        with caplog.at_level("WARNING", logger="rankinv.daemon"):
            service.pipeline.handle(set(), rescan=True)
        assert service.mode == POLLING and isinstance(service.watcher, PollWatcher)
        assert service.watcher.watched() >= 4  # the root and the three runs, all now polled
        assert store.health().get("watch_mode") == POLLING
        assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
        assert "switching to stat-polling" in caplog.records[0].message
        assert any("inotify limit" in e.message for e in store.events())
    finally:
        service.close()
        store.close()
