"""One run's trouble never stops the others: garbage logs, a log that cannot be read, a run directory and a
log file that vanish, and a corrupt store that is moved aside and rebuilt from the logs."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from rankinv.store import store_path_for
from tests.support import daemon as D
from tests.support.fakelog import append, expected_points, make_run, record

CONFIG = """
[daemon]
debounce_seconds = 0.05
heartbeat_seconds = 0.5
poll_interval = 0.2
"""


def _status(root: Path, state: Path, run: str) -> tuple[str, str] | None:
    record_ = D.read(root, state, lambda s: s.run(run))
    return None if record_ is None else (record_.status, record_.error or "")


def test_bad_runs_are_marked_and_the_rest_carry_on(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    good = make_run(root / "good")
    append(good, "".join(record(s) for s in range(1, 30)))
    garbage = make_run(root / "garbage")
    append(garbage, "\x00\xff{not json\n" * 50 + '{"step": 3, "logs": {"entropy": 0.5}}\n' + "\x89PNG" * 1000)
    (garbage / "train.log").write_bytes(os.urandom(20000))
    unreadable = make_run(root / "unreadable")
    # A log whose read fails with EIO: as root, chmod 000 would not stop us, but /proc/self/mem at offset 0 does.
    # It lies outside the root, so this daemon is allowed to follow such links.
    os.symlink("/proc/self/mem", unreadable / "train.log")
    doomed = make_run(root / "doomed")
    append(doomed, "".join(record(s) for s in range(1, 10)))
    (tmp_path / "c.toml").write_text(CONFIG + "follow_symlinks_outside_root = true\n")
    proc = D.start(root, state, "--config", str(tmp_path / "c.toml"), "--poll")
    try:
        D.wait_for("good run ingested", lambda: D.read(root, state, lambda s: D.metrics(s, "good"))
                   == expected_points(good, "good"))  # fmt: skip
        _, error = D.wait_for("unreadable run marked", lambda: (
            (st := _status(root, state, "unreadable")) is not None and st[0] == "error" and st))
        assert "Input/output error" in error and "train.log" in error
        D.wait_for("garbage run ingested", lambda: D.read(root, state, lambda s: D.metrics(s, "garbage")))
        assert D.read(root, state, lambda s: D.metrics(s, "garbage")) == {("entropy", 3): 0.5}  # only the valid line
        D.wait_for("doomed run ingested", lambda: D.read(root, state, lambda s: s.metric_count("doomed")))
        shutil.rmtree(doomed)
        gone = ("vanished", f"{doomed} disappeared")
        D.wait_for("vanished run marked", lambda: _status(root, state, "doomed") == gone)
        (good / "rankinv.jsonl").unlink()  # a log file vanishes: nothing breaks
        append(good, "".join(record(s) for s in range(30, 40)))  # ... and a new one appears
        D.wait_for("the new log ingested",
                   lambda: D.read(root, state, lambda s: ("entropy", 39) in D.metrics(s, "good")))
        assert proc.poll() is None
        assert int(D.read(root, state, lambda s: s.health().get("errors"))) >= 1
        assert "unreadable: RankinvError" in D.read(root, state, lambda s: s.health().get("last_error"))
    finally:
        assert D.stop(proc) == 0


def test_corrupt_store_is_moved_aside_and_rebuilt_from_the_logs(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    run = make_run(root / "grpo")
    append(run, "".join(record(s) for s in range(1, 50)))
    (tmp_path / "c.toml").write_text(CONFIG)
    expected = expected_points(run, "grpo")
    proc = D.start(root, state, "--config", str(tmp_path / "c.toml"))
    D.wait_for("metrics", lambda: D.read(root, state, lambda s: D.metrics(s, "grpo")) == expected)
    D.stop(proc, signal.SIGKILL)
    store = store_path_for(root, state)
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    store.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    proc = D.start(root, state, "--config", str(tmp_path / "c.toml"))
    try:
        D.wait_for("metrics rebuilt", lambda: D.read(root, state, lambda s: D.metrics(s, "grpo")) == expected)
        moved = list(store.parent.glob("store.sqlite.corrupt-*"))
        assert moved and moved[0].read_bytes().startswith(b"SQLite format 3\x00")
        events = D.read(root, state, lambda s: [e.message for e in s.events()])
        assert any("corrupt" in m and str(moved[0]) in m for m in events)
        log = (store.parent / "daemon.log").read_text()
        assert "was corrupt" in log
    finally:
        assert D.stop(proc) == 0
