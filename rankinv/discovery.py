"""Which directories under a runs root are training runs, what kind, which checkpoints are complete, whose child.

A directory is a run when it holds something a trainer writes: rankinv's manifest or JSONL, ``trainer_state.json``,
``checkpoint-N`` / verl ``global_step_N`` folders, ``training_args.bin`` next to saved weights, TensorBoard
events, or only a trainer's stdout (:mod:`rankinv.ingest.barelogs`); a stdout file in a shared logs folder joins
the run the evidence names (Slurm's record of the job, or the output directory the log prints). Discovery does
not descend into a run (its subfolders are its own) nor into hidden folders.

- kind: ``SFT`` or ``GRPO`` from the manifest, else from the metric names in the run's logs, else ``unknown``;
- parent: the model a GRPO run started from (manifest ``model_path``/``parent``, else the checkpoints'
  ``adapter_config.json`` ``base_model_name_or_path`` or ``config.json`` ``_name_or_path``), and ``parent_run``:
  the discovered run that holds it;
- run names are paths relative to the root (``sweeps/lr3e-5``); a root that is itself a run is named after it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rankinv.boundary import listing
from rankinv.boundary.files import confined, read_text
from rankinv.checkpoints import SETTLE_SECONDS, CheckpointInfo, assess
from rankinv.errors import RankinvError
from rankinv.ingest import Source, registry
from rankinv.ingest.barelogs import LOG_FOLDERS, attached_logs, is_bare_log_run, loose_logs
from rankinv.ingest.peek import guess_kind, last_logged_step
from rankinv.ingest.sources import CALLBACK_LOG_NAME, MANIFEST_NAME, list_sources, read_manifest
from rankinv.ingest.trainer_state import STATE_NAME, newest_state, state_files
from rankinv.ingest.values import MAX_STEP
from rankinv.ingest.verl_layout import merge

__all__ = ["CheckpointInfo", "RunInfo", "discover", "find_run_dirs", "inspect_run"]

MAX_DEPTH = 6
CONFIG_BYTES = 4 << 20
_CHECKPOINT = re.compile(r"^(?:checkpoint-|global_step_)(\d{1,18})$")  # steps fit SQLite's 64-bit INTEGER
_RUN_FILES = (MANIFEST_NAME, CALLBACK_LOG_NAME, STATE_NAME)
_SKIP = ("wandb", "__pycache__", "node_modules")


@dataclass(frozen=True)
class RunInfo:
    """One training run under the root."""

    name: str
    path: Path
    kind: str
    checkpoints: tuple[CheckpointInfo, ...]
    parent: str | None
    manifest: dict[str, Any] | None
    last_step: int | None
    parent_run: str | None = None
    sources: tuple[Source, ...] = ()
    """Every log found in it (the daemon reads from these without listing the run again)."""


def discover(
    root: str | Path, *, settle_seconds: float = SETTLE_SECONDS, follow_outside: bool = False,
    read_unnumbered: bool = False,
) -> list[RunInfo]:
    """Every run under ``root``, sorted by name; files reached through symlinks leaving it are not read unless
    ``follow_outside``; ``read_unnumbered``: see :func:`inspect_run`."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise RankinvError(f"runs root {base} is not a directory; give the folder that holds your training runs")
    with confined(base, follow_outside=follow_outside):
        found = walk(base)
        runs = [inspect_run(p, run_name(base, p), settle_seconds=settle_seconds, extra_logs=found.logs_of(p),
                            twins=found.twins_of(p), read_unnumbered=read_unnumbered)
                for p in found.runs]  # fmt: skip
        return sorted(_link_parents(runs), key=lambda r: r.name)


def attributed_logs(root: Path, run_dir: Path) -> list[Path]:
    """Stdout files that evidence gives to ``run_dir`` in the folders a shared log usually lies in: each folder
    from the run's parent up to ``root``, and their ``logs/`` and ``log/`` subfolders (``#SBATCH
    --output=logs/%x-%j.out``). A full walk of the root (what the daemon and ``rankinv status`` do) finds them in
    any plain folder, but can take minutes on a root given by default (the current directory)."""
    try:
        target, base = run_dir.resolve(), root.resolve()
    except OSError:
        return []
    if not run_dir.is_dir() or base not in target.parents:
        return []
    folders = []
    for folder in target.parents:
        folders += [folder, *(folder / name for name in LOG_FOLDERS if (folder / name).is_dir())]
        if folder == base:
            break
    return sorted(log for log, owner in attached_logs(base, folders).items() if owner.resolve() == target)


def run_name(root: Path, path: Path) -> str:
    """The name discovery gives a run: its path relative to the root (the root's own name for the root)."""
    rel = path.relative_to(root).as_posix()
    return root.resolve().name if rel == "." else rel


@dataclass(frozen=True)
class Found:
    """What a walk of the root found: run directories, the plain folders passed through, stdout files in plain
    folders attributed (from evidence) to a run, and folders that are part of another run (verl's checkpoints
    folder of a TensorBoard run: :mod:`rankinv.ingest.verl_layout`)."""

    runs: tuple[Path, ...]
    folders: tuple[Path, ...]
    attached: dict[Path, Path]
    twins: dict[Path, Path] = field(default_factory=dict)

    def logs_of(self, run_dir: Path) -> list[Path]:
        return sorted(log for log, owner in self.attached.items() if owner == run_dir)

    def twins_of(self, run_dir: Path) -> list[Path]:
        return sorted(t for t, owner in self.twins.items() if owner == run_dir)


def find_run_dirs(root: Path, depth: int = MAX_DEPTH) -> list[Path]:
    return list(walk(root, depth).runs)


def walk(root: Path, depth: int = MAX_DEPTH) -> Found:
    """Runs under ``root`` (without descending into any run), plain folders, and attributed stdout files.

    A run is a directory, or a stdout file that is a run of its own (:func:`~rankinv.ingest.barelogs.loose_logs`).
    """
    runs: list[Path] = []
    folders: list[Path] = []
    pending = [(root, depth)]
    while pending:
        path, left = pending.pop()
        if is_run_dir(path, bare_logs=path != root, root=root):
            runs.append(path)
            continue
        folders.append(path)
        if left > 0:
            pending.extend((c, left - 1) for c in _subdirs(path) if not c.name.startswith(".") and c.name not in _SKIP)
    attached = _attach(root, runs, folders)
    runs.extend(sorted({d for d in attached.values() if d not in runs}))
    runs.extend(log for f in folders if f not in runs for log in loose_logs(f, root))
    runs, twins = merge(runs)
    plain = tuple(sorted(f for f in folders if f not in runs and f not in twins))
    return Found(tuple(sorted(runs)), plain, attached, twins)


def _attach(root: Path, runs: list[Path], folders: list[Path]) -> dict[Path, Path]:
    """Each attributed stdout file → its run: the run holding the named directory, or that directory itself."""
    logs = attached_logs(root, folders)
    if not logs:
        return {}  # (resolving every run's path costs a realpath each)
    base = root.resolve()
    resolved = {r.resolve(): r for r in runs}
    out: dict[Path, Path] = {}
    for log, target in logs.items():
        owner = next((resolved[p] for p in (target, *target.parents) if p in resolved), None)
        if owner is None and not any(target in p.parents for p in resolved):
            owner = root / target.relative_to(base)
        if owner is not None:
            out[log] = owner
    return out


def _subdirs(path: Path) -> list[Path]:
    try:
        names = sorted(e.name for e in listing.entries(path) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []
    return [path / name for name in names]  # siblings sort by name as paths do (names, not paths, compared)


def is_run_dir(path: Path, *, bare_logs: bool = True, root: Path = Path("/")) -> bool:
    """Does ``path`` hold what a trainer leaves behind? ``bare_logs``: a trainer's stdout alone counts too (not
    for the root itself, where job logs of many runs often land); ``root`` bounds where evidence may send it."""
    try:
        names = set(listing.listing(path))
    except OSError:
        return False
    if names & set(_RUN_FILES) or any(_CHECKPOINT.match(n) for n in names):
        return True
    if "training_args.bin" in names and "config.json" in names:
        return True
    if any("tfevents" in n for n in names):
        return True
    if "runs" in names and any("tfevents" in e.name for e in _walk_files(path / "runs", 2)):  # HF's layout
        return True
    if any(f.files is not None and f.files(path) for f in registry.FORMATS):  # a format in its own folder (W&B)
        return True
    return bare_logs and is_bare_log_run(path, root)


def _walk_files(path: Path, depth: int) -> list[os.DirEntry[str]]:
    try:
        entries = list(os.scandir(path))
    except OSError:
        return []
    files = [e for e in entries if e.is_file()]
    if depth > 0:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                files.extend(_walk_files(Path(entry.path), depth - 1))
    return files


def inspect_run(
    path: Path, name: str, *, settle_seconds: float = SETTLE_SECONDS, extra_logs: list[Path] | tuple[Path, ...] = (),
    twins: list[Path] | tuple[Path, ...] = (), peek_logs: bool = True, read_unnumbered: bool = False,
) -> RunInfo:
    """What a run holds; ``extra_logs``: stdout files elsewhere attributed to it; ``twins``: other folders of the
    same run (verl's checkpoints folder), whose checkpoints are its own. Without ``peek_logs`` the last step leaves
    out the one its logs show (:func:`~rankinv.ingest.peek.last_logged_step`), for a caller that reads them;
    ``read_unnumbered``: a stdout without progress bars is read in full for its last step (``rankinv runs``: the
    daemon reads it anyway, and its points set the step)."""
    read = read_manifest(path)
    manifest = read or None
    found = [c for d in (path, *twins) for c in _checkpoints(d, settle_seconds)]
    checkpoints = tuple(sorted(found, key=lambda c: c.step))
    steps = [c.step for c in checkpoints]
    states = state_files(path)
    state = newest_state(path, states)
    if state is not None and isinstance(state[1].get("global_step"), int) and 0 <= state[1]["global_step"] <= MAX_STEP:
        steps.append(state[1]["global_step"])
    sources = list_sources(path, extra_logs, manifest=read, states=states)
    logged = last_logged_step(sources, read_unnumbered=read_unnumbered) if peek_logs else None
    if logged is not None:
        steps.append(logged)
    kind = _manifest_kind(manifest) or guess_kind(sources) or "unknown"
    parent = _parent(path, manifest, checkpoints)
    return RunInfo(name, path, kind, checkpoints, parent, manifest, max(steps, default=None), sources=tuple(sources))


def _checkpoints(path: Path, settle_seconds: float) -> list[CheckpointInfo]:
    found = []
    for child in _subdirs(path):
        match = _CHECKPOINT.match(child.name)
        if match:
            found.append(assess(_weights_dir(child), int(match[1]), settle_seconds=settle_seconds))
    return sorted(found, key=lambda c: c.step)


def _weights_dir(checkpoint: Path) -> Path:
    """verl keeps HF weights in ``global_step_N/actor/huggingface``; HF checkpoints hold them directly."""
    for candidate in (checkpoint, checkpoint / "actor" / "huggingface", checkpoint / "huggingface"):
        if listing.is_file(candidate / "config.json") or listing.is_file(candidate / "adapter_config.json"):
            return candidate
    return checkpoint


def _manifest_kind(manifest: dict[str, Any] | None) -> str | None:
    kind = str((manifest or {}).get("kind", "")).upper()
    return kind if kind in ("SFT", "GRPO") else None


def _parent(path: Path, manifest: dict[str, Any] | None, checkpoints: tuple[CheckpointInfo, ...]) -> str | None:
    for key in ("parent", "model_path"):
        value = (manifest or {}).get(key)
        if isinstance(value, str) and value:
            return resolve_parent(value, path)
    for checkpoint in reversed(checkpoints):
        base = _base_model(checkpoint.path)
        if base:
            return resolve_parent(base, path)
    return None


def _base_model(weights_dir: Path) -> str | None:
    for name, key in (("adapter_config.json", "base_model_name_or_path"), ("config.json", "_name_or_path")):
        try:
            value = json.loads(read_text(weights_dir / name, CONFIG_BYTES)).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str) and value and _real(value) != _real(weights_dir):
            return value
    return None


def resolve_parent(value: str, run_dir: Path) -> str:
    """A local path made absolute (relative ones against the run); a hub id or missing path as written."""
    candidate = Path(value).expanduser()
    for option in (candidate, run_dir / candidate):
        if option.exists():
            return str(_real(option))
    return value


def _real(path: str | Path) -> Path:
    """``path`` with symlinks resolved; a symlink loop is left as it is (``Path.resolve`` raises on one)."""
    return Path(os.path.realpath(path))


def _link_parents(runs: list[RunInfo]) -> list[RunInfo]:
    by_path = sorted(((_real(r.path), r.name) for r in runs), key=lambda x: len(str(x[0])), reverse=True)
    linked = []
    for run in runs:
        owner = None
        if run.parent:
            parent = Path(run.parent)
            owner = next((n for p, n in by_path if parent == p or p in parent.parents), None)
        linked.append(replace(run, parent_run=owner if owner != run.name else None))
    return linked
