"""Where a runs root's store lives: local disk under the XDG state directory, never on the runs' filesystem."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path


def state_home() -> Path:
    """``$XDG_STATE_HOME/rankinv`` (default ``~/.local/state/rankinv``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rankinv"


def root_key(root: str | Path) -> str:
    """A readable, collision-free folder name for a runs root on this host."""
    resolved = str(Path(root).expanduser().resolve())
    digest = hashlib.sha256(f"{socket.gethostname()}:{resolved}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(resolved).name or "root")[:40]
    return f"{slug}-{digest}"


def state_dir_for(root: str | Path, base: str | Path | None = None) -> Path:
    """The directory holding the store, pidfile, lock and log of the daemon for ``root`` on this host."""
    return (Path(base).expanduser() if base else state_home()) / "roots" / root_key(root)


def store_path_for(root: str | Path, base: str | Path | None = None) -> Path:
    return state_dir_for(root, base) / "store.sqlite"
