"""Starting one daemon: config checked, lock taken, store opened (or rebuilt), watcher chosen, then serve.

Everything that can fail because of the user's input fails here, before the service runs, with a message
naming the file, line or setting — and, for a detached start, before the original process returns.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rankinv.daemon.fswatch import choose_mode
from rankinv.daemon.lock import AlreadyRunning, DaemonLock
from rankinv.daemon.logsetup import setup_logging
from rankinv.daemon.mounts import Mount, mount_of
from rankinv.daemon.pipeline.triage import resolve_executor

from rankinv.config import Config, find_config, load_config
from rankinv.errors import RankinvError
from rankinv.store import Store, state_dir_for

log = logging.getLogger("rankinv.daemon")


@dataclass(frozen=True)
class Plan:
    """A checked request to run the daemon for one root."""

    root: Path
    config: Config
    config_path: Path | None
    state_dir: Path
    poll: bool

    @property
    def store_path(self) -> Path:
        return self.state_dir / "store.sqlite"


def plan(root: str | Path, config_path: str | Path | None = None, *, poll: bool = False,
         state_base: str | Path | None = None) -> Plan:  # fmt: skip
    """Validate root and config; the state base is --state-dir, else [daemon] state_dir, else XDG."""
    resolved = Path(root).expanduser().resolve()
    if not resolved.is_dir():
        raise RankinvError(f"runs root {resolved} is not a directory; give the folder that holds your training runs")
    # absolute: the detached daemon works from "/", and hands the config's path to its triage jobs
    path = Path(config_path).expanduser().resolve() if config_path else find_config(resolved)
    config = load_config(path)
    resolve_executor(config.daemon.triage_executor)
    if config.daemon.watch not in ("auto", "inotify", "polling"):
        raise RankinvError(f"{path}: [daemon] watch = {config.daemon.watch!r}; choose auto, inotify or polling")
    base = str(Path(state_base).expanduser().resolve()) if state_base else config.daemon.state_dir
    config = dataclasses.replace(config, daemon=dataclasses.replace(config.daemon, state_dir=base))
    return Plan(resolved, config, path, state_dir_for(resolved, base or None), poll)


def network_store_warning(state_dir: Path, table: list[Mount] | None = None) -> str | None:
    """The warning to give when the store would live on a network filesystem, else None."""
    mount = mount_of(state_dir, table)
    if mount is None or not mount.is_network:
        return None
    return (f"the store in {state_dir} is on {mount.fstype}: SQLite locking is unsafe on network filesystems; "
            "set [daemon] state_dir or --state-dir to a local disk")  # fmt: skip


def _open_store(p: Plan) -> Store:
    warning = network_store_warning(p.state_dir)
    if warning:
        log.warning("%s", warning)
    store = Store.open(p.store_path)
    if warning:
        store.add_event("warning", "daemon", warning)
    if store.recovered_from is not None:
        message = (f"the store was corrupt and was moved to {store.recovered_from}; a new one is being rebuilt "
                   "from the run logs")  # fmt: skip
        log.error("%s", message)
        store.add_event("error", "daemon", message)
    return store


def serve(p: Plan, *, foreground: bool, report: Callable[[str], object]) -> int:
    """Run the daemon in this process until stopped. ``report`` gets ``started PID``, ``running PID`` or
    ``error: …`` exactly once, as soon as that is known."""
    log_path = setup_logging(p.state_dir, foreground=foreground)
    lock = DaemonLock(p.state_dir)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        report(f"running {exc.pid or ''}")
        return 0
    try:
        return _serve_locked(p, log_path, report)
    except RankinvError as exc:
        log.error("%s", exc)
        report(f"error: {exc}")
        return 2
    finally:
        lock.release()


def _serve_locked(p: Plan, log_path: Path, report: Callable[[str], object]) -> int:
    from rankinv.daemon.service import Service

    mode, why = choose_mode(p.root, "polling" if p.poll else p.config.daemon.watch)
    log.info("rankinv daemon pid %d for %s; store %s; log %s", os.getpid(), p.root, p.store_path, log_path)
    store = _open_store(p)
    try:
        service = Service(p.root, p.config, store, mode=mode, mode_reason=why, config_path=p.config_path,
                          state_dir=p.state_dir)  # fmt: skip
        service.start()
        report(f"started {os.getpid()}")
        code: int = service.run()
        return code
    finally:
        store.close()
