"""Control a runs root's daemon from another process: the API ``rankinv daemon``, ``rankinv status`` and the
TUI (``rankinv watch``) use.

    status(root, state_base=None) -> DaemonStatus
    start_detached(root, config=None, poll=None, state_base=None) -> pid
    stop(root, state_base=None, timeout=15.0) -> pid that was stopped, or None

The daemon is started as a fresh ``python -m rankinv daemon ROOT`` process that detaches itself, never by
forking the caller (a TUI has threads; forking it would be unsafe). ``state_base`` is the ``--state-dir``
base; when None, ``[daemon] state_dir`` of ``ROOT/rankinv.toml`` applies, else ``$XDG_STATE_HOME/rankinv``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rankinv.daemon.lock import holder
from rankinv.daemon.logsetup import LOG_NAME

from rankinv.boundary.child import CHILD_CWD
from rankinv.config import find_config, load_config
from rankinv.errors import RankinvError
from rankinv.store import ReadStore, StoreError, state_dir_for

START_TIMEOUT = 60.0


@dataclass(frozen=True)
class DaemonStatus:
    root: Path
    running: bool
    pid: int | None
    state_dir: Path
    store_path: Path
    log_path: Path
    alive: bool = False
    """The heartbeat in the store is recent (a running daemon that is not stuck)."""
    health: dict[str, str] = field(default_factory=dict)


def state_dir(root: str | Path, state_base: str | Path | None = None) -> Path:
    resolved = Path(root).expanduser().resolve()
    if state_base is None:
        config_path = find_config(resolved)
        state_base = load_config(config_path).daemon.state_dir if config_path else None
    return state_dir_for(resolved, state_base or None)


def status(root: str | Path, state_base: str | Path | None = None) -> DaemonStatus:
    directory = state_dir(root, state_base)
    pid = holder(directory)
    store_path = directory / "store.sqlite"
    health: dict[str, str] = {}
    alive = False
    if store_path.exists():
        try:
            store = ReadStore.open(store_path)
            try:
                h = store.health()
                health, alive = dict(h.values), h.alive
            finally:
                store.close()
        except StoreError:
            pass  # an unmigrated or unreadable store: status still answers from the lock
    return DaemonStatus(Path(root).expanduser().resolve(), pid is not None, pid, directory, store_path,
                        directory / LOG_NAME, alive and pid is not None, health)  # fmt: skip


def start_detached(root: str | Path, config: str | Path | None = None, poll: bool | None = None,
                   state_base: str | Path | None = None) -> int:  # fmt: skip
    """Start the daemon for ``root`` in the background (or find the running one); returns its pid."""
    argv = [sys.executable, "-m", "rankinv", "daemon", _absolute(root)]
    if config is not None:
        argv += ["--config", _absolute(config)]
    if poll:
        argv.append("--poll")
    if state_base is not None:
        argv += ["--state-dir", _absolute(state_base)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=START_TIMEOUT, stdin=subprocess.DEVNULL,
                          check=False, cwd=CHILD_CWD)  # fmt: skip
    if done.returncode != 0:
        raise RankinvError(_last_words(done.stderr or done.stdout))
    pid: int | None = holder(state_dir(root, state_base))
    if pid is None:
        raise RankinvError(f"the daemon for {root} exited right after starting; see {state_dir(root, state_base)}")
    return pid


def _absolute(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def _last_words(output: str) -> str:
    """What a failed start said: its error line, or a traceback's last line (the exception), not the whole dump."""
    text = output.strip()
    if text.startswith("Traceback"):
        text = text.splitlines()[-1]
    return text.removeprefix("rankinv: error: ")


def _gone(directory: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if holder(directory) is None:
            return True
        time.sleep(0.05)
    return holder(directory) is None


def stop(root: str | Path, state_base: str | Path | None = None, timeout: float = 15.0) -> int | None:
    """SIGTERM the daemon and wait for it to release its lock (SIGKILL after ``timeout``)."""
    directory = state_dir(root, state_base)
    pid: int | None = holder(directory)
    if pid is None:
        return None
    if pid <= 0:
        raise RankinvError(f"a daemon holds {directory} but its pid is unknown; stop it by hand")
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return pid
        if _gone(directory, wait):
            return pid
    raise RankinvError(f"daemon pid {pid} did not exit after SIGKILL")
