"""A trainer's stdout file as evidence of a run: in the run's own directory, or in a shared logs folder.

- A folder holding one trainer stdout (``slurm-%j.out``, ``*.out``, ``*.log`` whose first records are Trainer log
  lines) and no subfolders of its own is a run, unless the evidence says the file belongs elsewhere.
- A stdout file in any other folder (``#SBATCH --output=logs/%x-%j.out``) belongs to the directory the evidence
  names (:func:`rankinv.ingest.slurmlog.owner_dir`: the confirmed Slurm job's ``WorkDir``, or the output directory
  the log prints) when that directory is inside the runs root; without such evidence it is a run of its own, the
  file itself, named after it — never given to a run by guessing. So is each unattributed stdout file in a
  ``logs/`` folder, at the root (where many jobs' logs land), in a folder with subfolders (a submit directory), or
  among several in one folder. A verl log that names its TensorBoard folder
  (:func:`rankinv.ingest.slurmlog.printed_verl_dir`) belongs to that folder's run.
"""

from __future__ import annotations

import os
from pathlib import Path

from rankinv.errors import RankinvError
from rankinv.ingest import Source
from rankinv.ingest.detect import TEXT_SUFFIXES, sniff_text
from rankinv.ingest.peek import guess_kind
from rankinv.ingest.slurmlog import owner_dir

LOG_FOLDERS = ("logs", "log")
_IGNORED = ("wandb", "__pycache__", "node_modules")


def trainer_logs(folder: Path) -> list[Path]:
    """The files in ``folder`` that are a trainer's stdout (judged from their first records)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.name.endswith(TEXT_SUFFIXES) and entry.is_file(follow_symlinks=False):
            path = Path(entry.path)
            try:
                if guess_kind([Source(path, sniff_text(path))]) is not None:
                    found.append(path)
            except RankinvError:
                continue  # unreadable: not evidence of anything (the run that owns it reports the error)
    return found


def _has_subfolders(folder: Path) -> bool:
    try:
        return any(
            e.is_dir(follow_symlinks=False) and not e.name.startswith(".") and e.name not in (*_IGNORED, *LOG_FOLDERS)
            for e in os.scandir(folder)
        )
    except OSError:
        return False


def claimed_by(log: Path, folder: Path, root: Path) -> Path | None:
    """The directory under ``root`` that the evidence gives ``log`` to, when it is not the log's own folder.

    Evidence naming the folder itself, the root, an ancestor of the folder (a job submitted from there) or a place
    outside the root says nothing against the log belonging where it lies.
    """
    owner = owner_dir(log)
    if owner is None:
        return None
    try:
        target, base, here = owner[0].resolve(), root.resolve(), folder.resolve()
    except OSError:
        return None
    if target in (here, base) or base not in target.parents or target in here.parents:
        return None
    return target if target.is_dir() else None


def _unattributed(folder: Path, root: Path) -> list[Path]:
    """The folder's trainer stdout files that no evidence gives to another directory."""
    return [log for log in trainer_logs(folder) if claimed_by(log, folder, root) is None]


def is_bare_log_run(folder: Path, root: Path = Path("/")) -> bool:
    """A folder without subfolders whose one trainer stdout belongs to it (a ``logs/`` folder never is)."""
    if folder.name in LOG_FOLDERS or _has_subfolders(folder):
        return False
    return len(_unattributed(folder, root)) == 1


def loose_logs(folder: Path, root: Path) -> list[Path]:
    """Unattributed stdout files of a plain folder that are runs of their own: those of a shared ``logs/``
    folder, of the root or of a folder with subfolders (a job's submit directory: never left unread), and each of
    several in any other folder."""
    found = _unattributed(folder, root)
    if not found:
        return []
    return found if folder == root or folder.name in LOG_FOLDERS or len(found) > 1 or _has_subfolders(folder) else []


def attached_logs(root: Path, folders: list[Path]) -> dict[Path, Path]:
    """Trainer stdout files in plain folders → the directory under ``root`` the evidence says they belong to."""
    found: dict[Path, Path] = {}
    for folder in folders:
        for log in trainer_logs(folder):
            target = claimed_by(log, folder, root)
            if target is not None:
                found[log] = target
    return found


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
