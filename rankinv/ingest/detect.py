"""Which reader fits a file: by name first, then by sniffing the first 64 KiB."""

from __future__ import annotations

import re
from pathlib import Path

from rankinv.boundary.files import UnsafeFile, open_regular
from rankinv.errors import RankinvError
from rankinv.ingest import jsonl, pydict, verl_console
from rankinv.ingest.trainer_state import STATE_NAME, state_files

TRAINER_STATE = "trainer_state"
JSONL = "jsonl"
PYDICT = "pydict"
VERL_CONSOLE = "verl_console"
CONSOLE = "console"  # a text log that may hold both stdout dict lines and verl console lines
TENSORBOARD = "tensorboard"
FORMATS = (TRAINER_STATE, JSONL, PYDICT, VERL_CONSOLE, CONSOLE, TENSORBOARD)
SNIFF_BYTES = 64 << 10
TEXT_SUFFIXES = (".log", ".out", ".err", ".txt", ".stdout", ".stderr")
TFEVENTS = re.compile(r"(^|\.)tfevents\.")


def normalise(fmt: str) -> str:
    name = fmt.strip().lower().replace("-", "_")
    if name not in (*FORMATS, "auto"):
        raise RankinvError(f"unknown log format {fmt!r}; choose one of: auto, {', '.join(FORMATS)}")
    return name


def detect_format(path: Path) -> str:
    """The reader for ``path``; a text log with no metric line yet is ``console`` (both line kinds)."""
    if path.is_dir():
        if state_files(path):
            return TRAINER_STATE
        raise RankinvError(f"{path} is a directory without trainer_state.json; give a log file (or a run directory)")
    name = path.name
    if name == STATE_NAME:
        return TRAINER_STATE
    if TFEVENTS.search(name):
        return TENSORBOARD
    if name.endswith((".jsonl", ".ndjson")):
        return JSONL
    return sniff_text(path)


def sniff_text(path: Path) -> str:
    try:
        with open_regular(path) as f:
            head = f.read(SNIFF_BYTES)
    except UnsafeFile:
        raise
    except OSError as exc:
        raise RankinvError(f"cannot read {path}: {exc.strerror}") from None
    lines = head.decode("utf-8", errors="replace").split("\n")[:-1] or [head.decode("utf-8", errors="replace")]
    kinds = {_line_kind(line.rstrip("\r")) for line in lines} - {None}
    if kinds == {JSONL}:
        return JSONL
    if kinds == {VERL_CONSOLE}:
        return VERL_CONSOLE
    if kinds == {PYDICT}:
        return PYDICT
    return CONSOLE


def _line_kind(line: str) -> str | None:
    if line.lstrip().startswith('{"') and jsonl.parse_line(line) is not None:
        return JSONL
    if verl_console.parse_line(line) is not None:
        return VERL_CONSOLE
    if pydict.parse_line(line) is not None:
        return PYDICT
    return None
