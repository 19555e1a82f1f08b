"""What the header warns about, found off the UI thread: another daemon whose root overlaps this one (runs
judged twice), and a child folder's own ``rankinv.toml`` that the daemon for this root will not read.

Blocking file and SQLite reads: call from a worker. No Textual here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

from rankinv.store import DatabaseError, ReadStore, StoreError, state_home

CONFIG_NAME = "rankinv.toml"
MAX_DEPTH = 3  # child roots are near the top; never walk a whole filesystem of checkpoints


def _live_daemons(state_base: Path | None) -> Iterator[tuple[int, Path]]:
    """(pid, root) of each daemon holding its lock under the state base, from its own health record."""
    holder = importlib.import_module("rankinv.daemon.lock").holder
    roots = (state_base or state_home()) / "roots"
    for directory in sorted(roots.iterdir()) if roots.is_dir() else ():
        pid = holder(directory)
        store_path = directory / "store.sqlite"
        if pid is None or not store_path.exists():
            continue
        try:
            with ReadStore.open(store_path) as store:
                root = store.health().get("root")
        except (StoreError, DatabaseError):
            continue
        if root:
            yield pid, Path(root)


def overlapping_daemons(root: Path, state_base: Path | None) -> list[str]:
    here = root.expanduser().resolve()
    out = []
    for pid, other in _live_daemons(state_base):
        if other != here and (other in here.parents or here in other.parents):
            relation = "a parent" if other in here.parents else "a child"
            out.append(f"another daemon (pid {pid}) watches {other}, {relation} of this root: runs judged twice")
    return out


def _configs(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        skip = (".", "checkpoint-", "global_step_")
        dirnames[:] = [] if depth >= MAX_DEPTH else sorted(d for d in dirnames if not d.startswith(skip))
        if depth and CONFIG_NAME in filenames:
            yield Path(dirpath) / CONFIG_NAME


def _text(path: Path | None) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path else None
    except OSError:
        return None


def child_configs(root: Path, config: Path | None) -> list[str]:
    """Each child ``rankinv.toml`` whose text differs from the config in use: it is silently not applied."""
    used = _text(config)
    out = []
    for path in _configs(root):
        if _text(path) != used:
            where = path.relative_to(root)
            out.append(f"{where} differs from the config in use and is ignored here; watch {path.parent} to apply it")
    return out


def warnings(root: Path, config: Path | None, state_base: Path | None) -> tuple[str, ...]:
    try:
        daemons = overlapping_daemons(root, state_base)
    except (ModuleNotFoundError, OSError):
        daemons = []  # no daemon package in this install, or an unreadable state dir: nothing to compare
    return (*daemons, *child_configs(root, config))
