"""The logs of a run directory: trainer state, JSONL, text logs, TensorBoard event files."""

from __future__ import annotations

import json
from pathlib import Path

from rankinv.boundary import listing
from rankinv.boundary.files import read_text, readable
from rankinv.ingest import Source, registry
from rankinv.ingest.detect import JSONL, TENSORBOARD, TEXT_SUFFIXES, TFEVENTS, TRAINER_STATE, sniff_text
from rankinv.ingest.trainer_state import newest_state, state_files

MANIFEST_NAME = "rankinv-run.json"  # written by rankinv.integrations.trl.RankinvCallback
CALLBACK_LOG_NAME = "rankinv.jsonl"
LOG_SUBDIRS = ("", "logs", "log")
EVENT_DEPTH = 4
MANIFEST_BYTES = 1 << 20
MAX_STRIDE = 1 << 31  # a logging interval beyond this is junk (it would push counted steps past 64 bits)


def list_sources(run_dir: Path, extra_logs: list[Path] | tuple[Path, ...] = (), *,
                 manifest: dict[str, object] | None = None, states: list[Path] | None = None,
                 ) -> list[Source]:  # fmt: skip
    """The run's own logs, plus stdout files elsewhere that evidence attributes to it (``extra_logs``); a run that
    is a stdout file of its own is that file. ``manifest``, ``states``: the run's manifest and its
    :func:`~rankinv.ingest.trainer_state.state_files` when the caller has just read them."""
    if listing.is_file(run_dir):
        return [Source(run_dir, sniff_text(run_dir))]
    states = state_files(run_dir) if states is None else states
    stride = logging_steps(run_dir, manifest=manifest, has_state=bool(states))
    found: list[Source] = [Source(p, sniff_text(p), stride) for p in extra_logs]
    if states:
        found.append(Source(run_dir, TRAINER_STATE))
    for sub in LOG_SUBDIRS:
        folder = run_dir / sub if sub else run_dir
        if listing.is_dir(folder):
            found.extend(_text_sources(folder, stride))
    found.extend(Source(p, TENSORBOARD) for p in sorted(_event_files(run_dir, EVENT_DEPTH)))
    for fmt in registry.FORMATS:
        if fmt.files is not None:
            found.extend(Source(p, fmt.name) for p in fmt.files(run_dir))
    return found


def _text_sources(folder: Path, stride: int) -> list[Source]:
    found = []
    logs = (folder / n for n in listing.listing(folder) if n.endswith((".jsonl", ".ndjson", *TEXT_SUFFIXES)))
    for path in sorted(p for p in logs if readable(p)):
        if path.name.endswith((".jsonl", ".ndjson")):
            found.append(Source(path, JSONL, stride))
        elif path.name.endswith(TEXT_SUFFIXES):
            found.append(Source(path, sniff_text(path), stride))
    return found


def _event_files(folder: Path, depth: int) -> list[Path]:
    """TensorBoard files anywhere below the run, except inside checkpoints and hidden folders."""
    found: list[Path] = []
    try:
        entries = listing.entries(folder)
    except OSError:
        return found
    for entry in entries:
        if TFEVENTS.search(entry.name) and readable(entry.path):
            found.append(Path(entry.path))
        elif entry.is_dir(follow_symlinks=False) and depth > 0 and not _skip_dir(entry.name):
            found.extend(_event_files(Path(entry.path), depth - 1))
    return found


def _skip_dir(name: str) -> bool:
    return name.startswith((".", "checkpoint-", "global_step_")) or name in ("wandb", "__pycache__")


def logging_steps(run_dir: Path, *, manifest: dict[str, object] | None = None, has_state: bool | None = None) -> int:
    """The trainer's logging interval: from the newest trainer_state, else the rankinv manifest, else 1 (the
    manifest and whether state files exist may be given by a caller that already read them)."""
    state = newest_state(run_dir) if (bool(state_files(run_dir)) if has_state is None else has_state) else None
    value = state[1].get("logging_steps") if state else None
    if not isinstance(value, int):
        value = (read_manifest(run_dir) if manifest is None else manifest).get("logging_steps")
    return value if isinstance(value, int) and 0 < value < MAX_STRIDE else 1


def read_manifest(run_dir: Path) -> dict[str, object]:
    """The run manifest written by the rankinv callback, or {} when absent or unreadable."""
    try:
        data = json.loads(read_text(run_dir / MANIFEST_NAME, MANIFEST_BYTES))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
