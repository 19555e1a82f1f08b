"""HF/TRL ``trainer_state.json``: the ``log_history`` every checkpoint carries.

Each checkpoint's ``log_history`` repeats all earlier entries, so the reader takes the newest state file of a run
(the highest ``global_step`` among ``trainer_state.json`` and ``checkpoint-*/trainer_state.json``) and emits only
entries past the last step it emitted. A state file that is mid-write (not valid JSON yet) is retried next time.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from itertools import compress
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

import msgspec

from rankinv.boundary import listing
from rankinv.boundary.files import read_bytes
from rankinv.ingest import columns
from rankinv.ingest.batch import Points
from rankinv.ingest.jsonl import loads
from rankinv.ingest.notes import Where
from rankinv.ingest.tail import START, Offset
from rankinv.ingest.values import MAX_STEP, float_points, points, record_from_mapping

STATE_NAME = "trainer_state.json"
STATE_BYTES = 128 << 20
FLOATS = "\0floats"  # marks a loaded state whose history msgspec decoded as floats
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def state_files(path: Path) -> list[Path]:
    """The state files of a run directory (or the one file given), newest checkpoint first."""
    if listing.is_file(path):
        return [path]
    found = []
    for name, step in _checkpoint_dirs(path):
        child = path / name / STATE_NAME
        if listing.exists(child):
            found.append((step, child))
    ranked = [p for _, p in sorted(found, reverse=True)]
    root = path / STATE_NAME
    return [root, *ranked] if listing.is_file(root) else ranked


def _checkpoint_dirs(path: Path) -> list[tuple[str, int]]:
    """``checkpoint-N`` folders (symlinks to folders too) and their N, as ``path.glob("checkpoint-*/")`` finds them
    (one listing, no glob machinery per run)."""
    if not listing.is_dir(path):
        return []
    try:
        listed = [(e, m) for e in listing.entries(path) if (m := _CHECKPOINT.match(e.name))]
    except PermissionError:
        return []
    out = []
    for entry, match in listed:
        try:
            if entry.is_dir():
                out.append((entry.name, int(match[1])))
        except OSError:
            continue
    return out


class _State(msgspec.Struct):
    """The usual state file: every logged value a number, decoded straight into floats; the other top-level
    fields readers use kept as they are."""

    log_history: list[dict[str, float]]
    global_step: Any = None
    logging_steps: Any = None


_STATE = msgspec.json.Decoder(_State)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        raw = read_bytes(path, STATE_BYTES)
    except OSError:
        return None
    try:
        state = _STATE.decode(raw)
    except msgspec.DecodeError:
        pass
    else:
        fields = {"global_step": state.global_step, "logging_steps": state.logging_steps}
        return {**{k: v for k, v in fields.items() if v is not None}, "log_history": state.log_history, FLOATS: True}
    try:
        data = loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("log_history"), list) else None


def newest_state(path: Path, files: list[Path] | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The readable state with the highest global_step (the root file or the newest checkpoint); ``files``: the
    path's :func:`state_files` when the caller has just listed them."""
    best: tuple[Path, dict[str, Any]] | None = None
    for candidate in (state_files(path) if files is None else files)[:2]:
        data = _load(candidate)
        if data is not None and (best is None or _step(data) > _step(best[1])):
            best = (candidate, data)
    return best


def _step(data: dict[str, Any]) -> int:
    step = data.get("global_step")
    return step if isinstance(step, int) else -1


def _signature(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_mtime_ns}:{st.st_size}"


_STEP_KEY, _TIME_KEY, _POINTS = (attrgetter(name) for name in ("step_key", "time_key", "points"))


def _columns(history: list[dict[str, float]]) -> tuple[list[int], list[float | None], list[columns.Layout]] | None:
    """Steps, times and layouts of the entries, when every entry has a metric and a step ``int(step)`` reads as
    :func:`~rankinv.ingest.values.to_step` does (finite, whole, 0 to 2^63-1); else None."""
    shapes = columns.layouts(history)
    if shapes is None or not all(map(_POINTS, shapes)):
        return None
    raw: list[float | None] = list(map(dict.get, history, map(_STEP_KEY, shapes)))
    if None in raw:
        return None
    steps = cast("list[float]", raw)
    if not (all(map(math.isfinite, steps)) and min(steps, default=0) >= 0 and max(steps, default=0) <= MAX_STEP):
        return None
    if not all(map(float.is_integer, steps)):
        return None  # a fraction: refused entry by entry, with a note
    times: list[float | None] = list(map(dict.get, history, map(_TIME_KEY, shapes)))
    if not columns.plain_times(times):
        times = [t if t is None or math.isfinite(t) else None for t in times]
    return list(map(int, steps)), times, shapes


class TrainerStateReader:
    """Incremental reader over a run's (or one file's) trainer_state log_history."""

    fmt = "trainer_state"

    def __init__(self, path: Path, run: str) -> None:
        self.path, self.run = path, run
        self.file = path  # the state file being read (for notes)

    def read_new(self, offset: Offset | None = None) -> tuple[Points, Offset]:
        offset = offset or START
        files = state_files(self.path)
        if not files:
            return Points(self.run), offset
        try:
            signature = "|".join(_signature(p) for p in files[:2])
        except OSError:
            return Points(self.run), offset
        if signature == offset.signature:
            return Points(self.run), offset
        newest = newest_state(self.path)
        if newest is None:
            return Points(self.run), offset
        entries = self._floats if newest[1].get(FLOATS) is True else self._entries
        self.file = newest[0]
        found, last = entries(newest[1]["log_history"], offset.last_step)
        return found, replace(offset, last_step=last, signature=signature, records=len(newest[1]["log_history"]))

    def _floats(self, history: list[dict[str, float]], after: int | None) -> tuple[Points, int | None]:
        """:meth:`_entries` for a history msgspec decoded as floats: the same points, made all at once (columns)
        when every entry carries a plain step and a metric, else entry by entry."""
        found = _columns(history)
        if found is None:
            return self._float_entries(history, after)
        steps, times, shapes = found
        if after is not None:
            keep = list(map(after.__lt__, steps))
            history, steps = list(compress(history, keep)), list(compress(steps, keep))
            times, shapes = list(compress(times, keep)), list(compress(shapes, keep))
        if not steps:
            return Points(self.run), after
        last = max(steps) if after is None else max(after, *steps)
        made = Points(self.run)
        made.add_columns(columns.Columns(steps, times, history, shapes))
        return made, last

    def _float_entries(
        self, history: list[dict[str, float]], after: int | None
    ) -> tuple[Points, int | None]:  # fmt: skip
        found = Points(self.run)
        last = after
        for index, entry in enumerate(history):
            step, made = float_points(self.run, entry)
            if step is None and made == [] and entry:
                self._refused(found, index, entry)
            if step is None or not made or (after is not None and step <= after):
                continue
            found.extend(made)
            last = step if last is None else max(last, step)
        return found, last

    def _entries(self, history: list[Any], after: int | None) -> tuple[Points, int | None]:
        found = Points(self.run)
        last = after
        for index, entry in enumerate(history):
            record = record_from_mapping(entry) if isinstance(entry, dict) else None
            if record is not None and record.problem is not None:
                found.note(record.problem, Where(self.file, record=f"log_history[{index}]"))
            if record is None or record.step is None or (after is not None and record.step <= after):
                continue
            found.extend(points(self.run, record.step, record))
            last = record.step if last is None else max(last, record.step)
        return found, last

    def _refused(self, found: Points, index: int, entry: dict[str, float]) -> None:
        """Note an entry whose step cannot be one (one the columns path would refuse: it reads no such entry)."""
        record = record_from_mapping(entry)
        if record is not None and record.problem is not None:
            found.note(record.problem, Where(self.file, record=f"log_history[{index}]"))
