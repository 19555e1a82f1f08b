"""Attaching to the daemon for a runs root, starting it detached when none runs (blocking: call from a worker).

The daemon outlives the TUI: quitting ``rankinv watch`` never stops it, and an SSH drop loses nothing.
"""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError

CONTROL = "rankinv.daemon.control"


class DaemonUnavailableError(RankinvError):
    """The daemon cannot be found or started; the message says what to do instead."""


def _control() -> Any:
    try:
        return importlib.import_module(CONTROL)
    except ModuleNotFoundError as exc:
        if exc.name != CONTROL:
            raise
        raise DaemonUnavailableError(
            "the rankinv daemon is not available in this install (no rankinv.daemon.control); "
            "showing the store as it is — use --no-daemon to view it read-only"
        ) from None


def _pid(status: Any) -> int | None:
    if status is None:
        return None
    if isinstance(status, int):
        return status
    if isinstance(status, dict):
        return status.get("pid") if status.get("running", True) else None
    running = getattr(status, "running", getattr(status, "alive", True))
    return getattr(status, "pid", None) if running else None


def attach(root: Path, state_base: Path | None = None) -> str:
    """Find the daemon for ``root`` or start one detached; returns a line for the status bar."""
    control = _control()
    pid = _pid(control.status(root, state_base=state_base))
    if pid:
        return f"pid {pid}"
    try:
        pid = control.start_detached(root, state_base=state_base)
    except (RankinvError, OSError, subprocess.SubprocessError) as exc:
        raise DaemonUnavailableError(f"could not start the daemon for {root}: {exc}") from None
    return f"started, pid {pid}"
