"""Which reader fits a file: by name first, then by sniffing the first 64 KiB (both from the format registry)."""

from __future__ import annotations

from pathlib import Path

from rankinv.boundary.files import UnsafeFile, open_regular
from rankinv.errors import RankinvError
from rankinv.ingest import registry
from rankinv.ingest.trainer_state import state_files

TRAINER_STATE = "trainer_state"
JSONL = "jsonl"
PYDICT = "pydict"
VERL_CONSOLE = "verl_console"
CONSOLE = "console"  # a text log that may hold both stdout dict lines and verl console lines
TENSORBOARD = "tensorboard"
FORMATS = tuple(f.name for f in registry.FORMATS)
SNIFF_BYTES = 64 << 10
TEXT_SUFFIXES = (".log", ".out", ".err", ".txt", ".stdout", ".stderr")
TFEVENTS = registry.TFEVENTS
_SNIFFED = tuple(f for f in registry.FORMATS if f.line is not None)


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
    named = next((f.name for f in registry.FORMATS if f.by_name(path.name)), None)
    return named or sniff_text(path)


def sniff_text(path: Path) -> str:
    try:
        with open_regular(path) as f:
            head = f.read(SNIFF_BYTES)
    except UnsafeFile:
        raise
    except OSError as exc:
        raise RankinvError(f"cannot read {path}: {exc.strerror}") from None
    lines = head.decode("utf-8", errors="replace").split("\n")[:-1] or [head.decode("utf-8", errors="replace")]
    kinds = {k for line in lines if (k := _line_kind(line.rstrip("\r"))) is not None}
    return kinds.pop() if len(kinds) == 1 else CONSOLE  # one kind of record line, or a mix (or none yet)


def _line_kind(line: str) -> str | None:
    return next((f.name for f in _SNIFFED if f.line is not None and f.line(line) is not None), None)
