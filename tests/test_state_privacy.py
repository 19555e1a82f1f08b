"""The state directory is private whatever the umask, and a directory that is not is refused.

The real daemon runs under umask 022 (the usual default, which makes new files world-readable); every
directory it creates must be 0700 and every file in its state directory 0600 — the store with its WAL and
SHM, the log, the lock, the pidfile and the arm switch.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rankinv.store import Store, state_dir_for
from tests.support import daemon as D
from tests.support.fakelog import append, make_run, record
from tests.support.slurm_cluster import OTHER_USER, ensure_user

EXPECTED = {"store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "daemon.log", "daemon.lock", "daemon.pid",
            "armed.json"}  # fmt: skip


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _ready(root: Path, base: Path, pid: int) -> bool:
    def probe(store: Store) -> bool:
        h = store.health()
        return h.alive and h.get("pid") == str(pid) and h.get("ready") == "true"

    return D.read(root, base, probe)


def test_the_daemons_state_is_private_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    root, base = tmp_path / "root", tmp_path / "state"
    append(make_run(root / "grpo"), "".join(record(step) for step in range(1, 30)))
    (tmp_path / "c.toml").write_text(f'[daemon]\nstate_dir = "{base}"\nheartbeat_seconds = 0.5\n')
    assert D.cli("arm", str(root), "--yes", "--config", str(tmp_path / "c.toml")).returncode == 0
    proc = D.start(root, base, "--config", str(tmp_path / "c.toml"), log=tmp_path / "out.log")
    try:
        D.wait_for("daemon ready", lambda: _ready(root, base, proc.pid))
        state = state_dir_for(root, base)
        files = {p.name: mode(p) for p in state.iterdir() if p.is_file()}
        assert set(files) >= EXPECTED, sorted(files)
        assert {name: m for name, m in files.items() if m != 0o600} == {}
        for folder in (state, state.parent):
            assert mode(folder) == 0o700, folder
    finally:
        assert D.stop(proc) == 0


@pytest.mark.parametrize(
    ("how", "message"),
    [("theirs", "belongs to uid"), ("world-writable", "writable by group or others (mode 0777)")],
)
def test_a_state_directory_that_is_not_private_is_refused(tmp_path: Path, how: str, message: str) -> None:
    root, base = tmp_path / "root", tmp_path / "state"
    make_run(root / "grpo")
    state = state_dir_for(root, base)
    state.mkdir(parents=True)
    if how == "theirs":
        os.chown(state, ensure_user(OTHER_USER), -1)
    else:
        state.chmod(0o777)
    out = D.cli("daemon", str(root), "--foreground", "--state-dir", str(base), timeout=60)
    assert out.returncode != 0 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (state / "store.sqlite").exists() and not (state / "daemon.log").exists()


def test_an_own_state_directory_from_before_is_tightened_not_refused(tmp_path: Path) -> None:
    from rankinv.store.private import private_dir

    folder = tmp_path / "old"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert mode(private_dir(folder)) == 0o700
