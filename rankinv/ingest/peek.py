"""Cheap looks at a run's logs for discovery: which metric names appear, and the last step logged.

Discovery runs over every run on each scan, so it reads only the head (metric names) or the tail (last step)
of each log, never the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rankinv.boundary.files import open_regular
from rankinv.errors import RankinvError
from rankinv.ingest import Source, jsonl, registry, verl_console
from rankinv.ingest.detect import CONSOLE, JSONL, PYDICT, TENSORBOARD, TRAINER_STATE, VERL_CONSOLE
from rankinv.ingest.lines import console_parser
from rankinv.ingest.trainer_state import newest_state
from rankinv.metrics import kind_from_names

if TYPE_CHECKING:
    from rankinv.ingest.values import Record

HEAD_BYTES = 64 << 10
OPENRLHF = "openrlhf"  # the registry's name for OpenRLHF's stdout
EVENT_HEAD_BYTES = 1 << 20
TAIL_BYTES = 64 << 10
EVENT_TAIL_FIRST = 4 << 10  # an event file's end read for its last step: 4 KiB (some 80 scalar events) first,
EVENT_TAIL_BYTES = 1 << 20  # then four times more each time it holds no scalar, up to 1 MiB


def metric_names(sources: list[Source]) -> set[str]:
    """Raw metric keys in the first records of each log."""
    names: set[str] = set()
    for source in sources:
        names |= _names(source)
    return names


def guess_kind(sources: list[Source]) -> str | None:
    """GRPO or SFT from the metric names a run's logs carry; None when they say nothing yet."""
    return kind_from_names(metric_names(sources))


def _names(source: Source) -> set[str]:
    if source.fmt == TRAINER_STATE:
        state = newest_state(source.path)
        history = state[1]["log_history"][:50] if state else []
        return {str(k) for entry in history if isinstance(entry, dict) for k in entry}
    if source.fmt == TENSORBOARD:
        return _event_tags(source.path)
    entry = registry.BY_NAME.get(source.fmt)
    if entry is not None and entry.names is not None:
        return entry.names(source.path)
    parse = console_parser()

    def names_in(lines: list[str]) -> set[str]:
        return {name for line in lines if (record := parse(line)) is not None for name in record.values}

    # After a long preamble (a config print, model loading, Ray's warnings) only the newest lines say it.
    return names_in(_head_lines(source.path, HEAD_BYTES)) or names_in(_tail_lines(source.path, HEAD_BYTES))


def _read(path: Path, start: int, size: int) -> bytes:
    try:
        with open_regular(path) as f:
            f.seek(start)
            return f.read(size)
    except OSError:
        return b""


def _head_lines(path: Path, size: int) -> list[str]:
    data = _read(path, 0, size)
    return data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace").splitlines()


def _tail_lines(path: Path, size: int) -> list[str]:
    """The whole lines of the last ``size`` bytes of a file larger than ``size`` (none of a smaller one: its
    head was all of it)."""
    try:
        total = path.stat().st_size
    except OSError:
        return []
    if total <= size:
        return []
    data = _read(path, total - size, size)
    return data[data.find(b"\n") + 1 : data.rfind(b"\n") + 1].decode("utf-8", errors="replace").splitlines()


# Tags of event files whose head says all the kind guess needs, by (device, inode, path): the first
# EVENT_FIRST_BYTES, or all of a smaller file, when they already show RL metrics (more names cannot make a run less
# GRPO), else the first EVENT_HEAD_BYTES once written (they do not change while the file only grows). Decoding a
# MiB costs ~0.15 s, and the daemon inspects a run on each change to its folders.
_SETTLED_TAGS: dict[tuple[int, int, str], tuple[int, frozenset[str]]] = {}
_SETTLED_KEPT = 4096
EVENT_FIRST_BYTES = 64 << 10


def _event_tags(path: Path) -> set[str]:
    from rankinv.ingest.tensorboard import _Collect, _crc_tools, walk

    try:
        st = path.stat()
    except OSError:
        return set()
    key = (st.st_dev, st.st_ino, str(path))
    settled = _SETTLED_TAGS.get(key)
    if settled is not None and st.st_size >= settled[0]:  # (smaller: truncated in place, read again)
        return set(settled[1])
    try:
        tools = _crc_tools()
    except RankinvError:
        return set()
    for size in (EVENT_FIRST_BYTES, EVENT_HEAD_BYTES):
        collect = _Collect("", tools)
        data = _read(path, 0, size)
        collect.feed(data[: walk(data, tools[1])[1]])
        tags = {p.name for p in collect.found}
        grpo = kind_from_names(tags) == "GRPO"
        if grpo or len(data) < size:  # RL metrics seen, or the whole file read
            break
    if grpo or len(data) >= EVENT_HEAD_BYTES:  # what the head says can no longer change the guess
        if len(_SETTLED_TAGS) >= _SETTLED_KEPT:
            _SETTLED_TAGS.clear()
        _SETTLED_TAGS[key] = (st.st_size, frozenset(tags))
    return tags


def last_logged_step(sources: list[Source], *, read_unnumbered: bool = False) -> int | None:
    """The highest step in the last 64 KiB of a run's text logs that number their lines (JSONL, verl's console,
    a log mixing verl's lines with others), of the scalar events at the end of its TensorBoard event files
    (:func:`_last_event_step`), or on the training progress bar of its stdout. ``read_unnumbered``: a
    stdout whose tail shows no bar (``disable_tqdm``), and OpenRLHF's stdout (its bars count redraws), are read in
    full by their reader, whose steps are the daemon's (without it, such a log adds no step)."""
    steps: list[int] = []
    for source in sources:
        if source.fmt in (PYDICT, CONSOLE):
            bar = _last_bar_step(source.path)
            if bar is None and read_unnumbered:
                bar = _read_step(source)
            if bar is not None:
                steps.append(bar)
        elif source.fmt == OPENRLHF and read_unnumbered:  # its bars count redraws: only its reader knows steps
            step = _read_step(source)
            if step is not None:
                steps.append(step)
        if source.fmt == TENSORBOARD:
            step = _last_event_step(source.path)
            if step is not None:
                steps.append(step)
            continue
        parse = _step_parser(source.fmt)
        if parse is None:
            continue
        try:
            size = source.path.stat().st_size
        except OSError:
            continue
        start = max(0, size - TAIL_BYTES)
        data = _read(source.path, start, TAIL_BYTES)
        lines = data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace").splitlines()
        for line in lines[1:] if start else lines:  # the first line of a mid-file window may be partial
            record = parse(line)
            if record is not None and record.step is not None:
                steps.append(record.step)
    return max(steps, default=None)


def _last_event_step(path: Path) -> int | None:
    """The step of the last scalar event of a TensorBoard event file (the step the daemon's reader leaves as the
    run's last), from the file's last 4 KiB, or more up to its last 1 MiB when that holds none (the file ends in
    large non-scalar records: text, images, histograms); None beyond that, or without the tensorboard package.
    Never a parse of the whole file: the records in the window are found by
    :func:`~rankinv.ingest.tensorboard.tail_payloads` and decoded from the last."""
    from rankinv.ingest.tensorboard import _crc_tools, last_scalar_step, tail_payloads, walk

    try:
        tools = _crc_tools()
        size = path.stat().st_size
    except (RankinvError, OSError):
        return None
    window = EVENT_TAIL_FIRST
    while True:
        start = max(0, size - window)
        data = _read(path, start, size - start)
        step = last_scalar_step(tail_payloads(data, tools[1]) if start else walk(data, tools[1])[0], tools)
        if step is not None or not start or window >= EVENT_TAIL_BYTES:
            return step
        window *= 4


def _step_parser(fmt: str) -> Callable[[str], Record | None] | None:
    """The line parser of a text format whose every line carries its own step: JSONL and verl's console (also
    amid other output). OpenRLHF's progress bars number their redraws, not steps (its reader tells them apart),
    and TRL's stdout dicts carry no step: their bar counter is read instead."""
    if fmt == JSONL:
        return jsonl.parse_line
    if fmt in (VERL_CONSOLE, CONSOLE):
        return verl_console.parse_line
    return None


def _last_bar_step(path: Path) -> int | None:
    """The counter of the longest plain progress bar (the Trainer's) in the log's last 64 KiB."""
    from rankinv.ingest.stdout import bar_counter

    try:
        size = path.stat().st_size
    except OSError:
        return None
    text = _read(path, max(0, size - TAIL_BYTES), TAIL_BYTES).decode("utf-8", errors="replace")
    bars = [b for seg in re.split(r"[\r\n]", text) if (b := bar_counter(seg)) is not None and b[2]]
    if not bars:
        return None
    total = max(b[1] for b in bars)
    return max(b[0] for b in bars if b[1] == total)


def _read_step(source: Source) -> int | None:
    """The highest step the source's own reader gives its points (the whole log read once)."""
    try:
        points, _ = source.open("").read_new()
    except (OSError, RankinvError):
        return None
    return max((row[0] for row in points.rows()), default=None)
