"""Where the runs are and which directories to watch, without descending into any run.

The service watches the root, every plain folder on the way to runs (so a new sweep folder is noticed), each
run directory, its log subfolders (and a W&B run folder holding a run file), and checkpoints still being
written. Checkpoint shard trees are never listed: a run's own subfolders named ``checkpoint-*``/``global_step_*``
are skipped here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from rankinv.discovery import MAX_DEPTH, run_name, walk
from rankinv.ingest import registry

CHECKPOINT_DIR = re.compile(r"^(?:checkpoint-|global_step_)\d+$")
SKIP = ("wandb", "__pycache__", "node_modules")


@dataclass(frozen=True)
class Layout:
    """Run directory → run name, the plain folders (root included) that may grow new runs, and stdout files in
    plain folders (a shared ``logs/``) → the run directory the evidence attributes them to."""

    runs: dict[Path, str]
    folders: tuple[Path, ...]
    attached: dict[Path, Path] = field(default_factory=dict)
    twins: dict[Path, Path] = field(default_factory=dict)  # another folder of a run (verl checkpoints) → the run

    def logs_of(self, run_dir: Path) -> list[Path]:
        return sorted(log for log, owner in self.attached.items() if owner == run_dir)

    def twins_of(self, run_dir: Path) -> list[Path]:
        return sorted(t for t, owner in self.twins.items() if owner == run_dir)


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as entries:
            names = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:
        return []
    return [path / name for name in names]  # siblings sort by name as paths do


def scan(root: Path, depth: int = MAX_DEPTH) -> Layout:
    found = walk(root, depth)
    return Layout({p: run_name(root, p) for p in found.runs}, found.folders, found.attached, found.twins)


def run_watch_dirs(run_dir: Path) -> list[Path]:
    """The run directory and its direct subfolders that hold logs (never a checkpoint's contents); for a run that is
    a stdout file of its own, the folder holding it."""
    if run_dir.is_file():
        return [run_dir.parent]
    subs = [
        p for p in _subdirs(run_dir)
        if not CHECKPOINT_DIR.match(p.name) and not p.name.startswith(".") and p.name not in SKIP
    ]  # fmt: skip
    own = sorted({p.parent for f in registry.FORMATS if f.files is not None for p in f.files(run_dir)})
    return [run_dir, *subs, *own]  # ``own``: formats in a folder of their own (a W&B run folder)


def owner(
    path: Path, runs: dict[Path, str], root: Path, attached: dict[Path, Path] | None = None,
    twins: dict[Path, Path] | None = None,
) -> Path | None:
    """The run directory a changed path belongs to (the path itself or its nearest run ancestor)."""
    if attached and path in attached:
        return attached[path]
    for candidate in (path, *path.parents):
        if candidate in runs:
            return candidate
        if twins and candidate in twins:
            return twins[candidate]
        if candidate == root:
            return None
    return None
