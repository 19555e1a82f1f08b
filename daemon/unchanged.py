"""Runs a one-shot scan may leave unread: nothing in their folder changed since the last scan stored them.

A scan of 10,000 runs spends most of its time re-inspecting folders and re-reading logs that did not change. The
last scan's fingerprint of each run is kept beside the store (``oneshot-seen.json``): ``lstat`` of the run folder,
of every entry in it and in its direct subfolders, and of the stdout files attributed to it (mode, inode, size,
mtime and ctime in nanoseconds: adding, removing, renaming, writing or chmod-ing any of them changes it). A run is
left unread only when all of these hold; anything else goes through the full inspection as before:

- the fingerprint is the same, and it covers everything the inspection reads: only regular files and folders (no
  symlink, FIFO or device), no folder two levels down (verl's ``global_step_N/actor``, TensorBoard's
  ``runs/DATE``, W&B folders), no twin folder, a folder that still exists;
- the store still holds what that scan wrote: the run's record (path, kind, parent, manifest, last step, job id;
  status active, no error) and its logs' offsets; no checkpoint was still settling and no log was unreadable
  (both can change with nothing on disk changing); the run is not SFT (its checkpoints are offered to triage);
- a parent named by the manifest resolves to the same place (it lies outside the run);
- rankinv's version, the configuration and which optional readers are installed are those of the last scan.

The run then counts as re-inspected and found unchanged, so the judging that follows treats it exactly as the
full path would (:mod:`rankinv.daemon.pipeline.judged`).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rankinv import __version__
from rankinv.boundary import listing
from rankinv.config import Config
from rankinv.discovery import resolve_parent
from rankinv.ingest import registry
from rankinv.store import RunRecord
from rankinv.store.private import FILE_MODE
from rankinv.store.reads import Reads

FILE_NAME = "oneshot-seen.json"
_FORMAT = 1


def folder_print(run_dir: Path, extra_logs: Iterable[Path]) -> str | None:
    """A digest of the run's folder as ``lstat`` sees it, or None when it holds what a digest cannot vouch for."""
    try:
        top = os.lstat(run_dir)
        if not stat.S_ISDIR(top.st_mode):
            return None
        keys: list[tuple[Any, ...]] = [_key(".", top)]
        for entry in _entries(run_dir):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                keys.append(_key(entry.name, st))
                for inner in _entries(Path(entry.path)):
                    inner_st = inner.stat(follow_symlinks=False)
                    if not stat.S_ISREG(inner_st.st_mode):
                        return None  # a folder two levels down, a symlink, a FIFO: inspect it in full
                    keys.append(_key(f"{entry.name}/{inner.name}", inner_st))
            elif stat.S_ISREG(st.st_mode):
                keys.append(_key(entry.name, st))
            else:
                return None
        for log in extra_logs:
            st = os.lstat(log)
            if not stat.S_ISREG(st.st_mode):
                return None
            keys.append(_key(str(log), st))
    except OSError:
        return None  # vanished or unreadable meanwhile: the full path says what happened
    return _digest(keys)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    return sorted(listing.entries(folder), key=lambda e: e.name)


def _key(name: str, st: os.stat_result) -> tuple[Any, ...]:
    return name, st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _digest(value: object) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()


def setting(config: Config) -> str:
    """What every inspection depends on besides the run's files."""
    missing = tuple(f.missing() for f in registry.FORMATS)
    return _digest((_FORMAT, __version__, repr(config), missing))


def record_print(record: RunRecord) -> str:
    """What the store holds of a run that a full inspection would write again."""
    ok = record.status == "active" and record.error is None
    return _digest((ok, record.path, record.kind, record.parent, record.manifest, record.last_step, record.job_id))


def parent_named(record: RunRecord) -> str | None:
    """The parent the run's manifest names (resolved against the disk on each scan), None if it names none."""
    for key in ("parent", "model_path"):
        value = (record.manifest or {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None


class Seen:
    """The last scan's fingerprints, checked against the disk and the store, and the ones this scan keeps."""

    def __init__(self, path: Path, config: Config, store: Reads):
        self.path, self.setting, self.store = path, setting(config), store
        self.old = self._load()
        self.records: dict[str, RunRecord] = {r.name: r for r in store.runs()}  # as the scan starts
        self.stored_offsets = store.offsets() if self.old else {}
        self.kept: dict[str, list[Any]] = {}  # run → the old entry, still true
        self.read: dict[str, tuple[str, list[str]]] = {}  # run → (digest taken before reading it, its logs)

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("setting") != self.setting or not isinstance(data.get("runs"), dict):
            return {}
        runs: dict[str, Any] = data["runs"]
        return runs

    def unchanged(self, name: str, run_dir: Path, extra_logs: list[Path], twins: list[Path]) -> str | None:
        """None when the run can be left unread, else its folder's digest ("" when it has none) to pass to
        :meth:`inspected` once the full path has read it."""
        folder = None if twins else folder_print(run_dir, extra_logs)
        if folder is None:
            return ""
        old: Any = self.old.get(name)
        if self._still(old, self.records.get(name), run_dir, folder):
            self.kept[name] = old
            return None
        return folder

    def _still(self, old: Any, record: RunRecord | None, run_dir: Path, folder: str) -> bool:
        if not isinstance(old, list) or len(old) != 3 or record is None or old[0] != folder:
            return False
        if old[1] != record_print(record) or record.path != str(run_dir) or record.kind == "sft":
            return False
        offsets = old[2]
        if not isinstance(offsets, dict) or any(self.stored_offsets.get(k) != v for k, v in offsets.items()):
            return False
        named = parent_named(record)
        return named is None or resolve_parent(named, run_dir) == record.parent

    def inspected(self, name: str, folder: str, logs: list[str], clean: bool) -> None:
        """The full path read the run (``logs``: the logs it reads; ``clean``: none was unreadable)."""
        if folder and clean:
            self.read[name] = (folder, logs)
        else:
            self.read.pop(name, None)

    def save(self) -> None:
        """Store every fingerprint still true after this scan's commit (atomically: a reader sees old or new)."""
        records = {r.name: r for r in self.store.runs()}
        settling = {c.run for c in self.store.checkpoints() if not c.complete}
        offsets = self.store.offsets()
        runs: dict[str, list[Any]] = {}
        for name, (folder, logs) in self.read.items():
            record = records.get(name)
            if record is None or record.kind == "sft" or name in settling or record.status != "active":
                continue
            runs[name] = [folder, record_print(record), {k: offsets.get(k) for k in logs}]
        for name, entry in self.kept.items():
            if name in records and record_print(records[name]) == entry[1]:
                runs[name] = entry
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
            with os.fdopen(fd, "w") as f:  # encoded in one piece: dump writes it chunk by chunk (twice the CPU)
                f.write(json.dumps({"setting": self.setting, "runs": runs}))
            os.replace(tmp, self.path)
        except OSError:
            pass  # only a cache: the next scan reads every run in full
