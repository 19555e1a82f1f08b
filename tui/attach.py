"""Attaching to the daemon for a runs root, starting it detached when none runs (blocking: call from a worker).

The daemon outlives the TUI: quitting ``rankinv watch`` never stops it, and an SSH drop loses nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from rankinv.daemon import control

from rankinv.errors import RankinvError


class DaemonUnavailableError(RankinvError):
    """The daemon cannot be started; the message says what to do instead."""


def attach(root: Path, state_base: Path | None = None) -> str:
    """Find the daemon for ``root`` or start one detached; returns a line for the status bar."""
    status = control.status(root, state_base=state_base)
    if status.running and status.pid:
        return f"pid {status.pid}"
    try:
        pid = control.start_detached(root, state_base=state_base)
    except (RankinvError, OSError, subprocess.SubprocessError) as exc:
        raise DaemonUnavailableError(f"could not start the daemon for {root}: {exc}") from None
    return f"started, pid {pid}"
