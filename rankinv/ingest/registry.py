"""The log formats rankinv reads: one registration each, and everything else derives from it.

A format is a module (its parser) plus one :class:`LogFormat` entry in :data:`FORMATS`: its name, how a file is
recognised (by its name, or by sniffing its lines), how it is opened, its priority as a run's one source, the
optional package it needs, and for a format in a folder of its own (W&B), where its files are and which metric
names a file starts with. Detection (:mod:`rankinv.ingest.detect`), ``open_source`` and the daemon's choice
of a run's source all read this table; adding a format is one module and one entry here.

Priority: a run's logs often carry the same numbers; the daemon reads the first available of them — live and
full-precision first (the callback's JSONL, then other JSONL, TensorBoard, W&B run files), rounded stdout next,
``trainer_state.json`` (written only at saves) last. A format whose optional package is missing is skipped
with a message, and the run falls back to its other logs.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankinv.ingest import Reader
    from rankinv.ingest.values import Record

Opener = Callable[[Path, str, int], "Reader"]
TFEVENTS = re.compile(r"(^|\.)tfevents\.")


@dataclass(frozen=True)
class LogFormat:
    """One readable log format."""

    name: str
    priority: int  # lower is preferred as a run's one source
    open: Opener
    by_name: Callable[[str], bool] = lambda _name: False  # recognised from the file name alone
    line: Callable[[str], Record | None] | None = None  # a line parser, for sniffing text logs
    available: Callable[[], bool] | None = None  # is the optional package the reader needs installed?
    files: Callable[[Path], list[Path]] | None = None  # its files in a run directory, where the listing of text
    # logs and TensorBoard events does not find them (a folder of its own)
    names: Callable[[Path], set[str]] | None = None  # raw metric keys near a file's start (discovery's look)
    hint: str = ""  # what to install when it is not

    def missing(self) -> str | None:
        """Why this format cannot be read here (its optional package is absent), or None."""
        if self.available is None or self.available():
            return None
        return f"{self.name} {self.hint}"


def _found(find: Callable[[], object]) -> bool:
    try:
        return find() is not None
    except (ImportError, ValueError, AttributeError):  # blocked or broken install: not readable either
        return False


def _has_tensorboard() -> bool:
    return _found(lambda: importlib.util.find_spec("tensorboard"))


def _has_wandb() -> bool:
    return _found(lambda: importlib.util.find_spec("wandb"))


def _open_state(path: Path, run: str, _stride: int) -> Reader:
    from rankinv.ingest.trainer_state import TrainerStateReader

    return TrainerStateReader(path, run)


def _open_tensorboard(path: Path, run: str, _stride: int) -> Reader:
    from rankinv.ingest.tensorboard import TensorBoardReader

    return TensorBoardReader(path, run)


def _open_wandb(path: Path, run: str, _stride: int) -> Reader:
    from rankinv.ingest.wandb_run import WandbRunReader

    return WandbRunReader(path, run)


def _wandb_files(run_dir: Path) -> list[Path]:
    from rankinv.ingest import wandb_run

    return wandb_run.run_files(run_dir)


def _wandb_names(path: Path) -> set[str]:
    from rankinv.ingest import wandb_run

    return wandb_run.head_names(path)


def _open_jsonl(path: Path, run: str, stride: int) -> Reader:
    from rankinv.ingest import jsonl
    from rankinv.ingest.lines import LineReader

    return LineReader(path, run, "jsonl", jsonl.parse_line_noted, stride, parse_block=jsonl.parse_block)


def _open_verl(path: Path, run: str, stride: int) -> Reader:
    from rankinv.ingest import verl_console
    from rankinv.ingest.lines import LineReader

    return LineReader(path, run, "verl_console", verl_console.parse_line, stride, parse_block=verl_console.parse_block)


def _open_pydict(path: Path, run: str, stride: int) -> Reader:
    from rankinv.ingest import pydict, stdout
    from rankinv.ingest.stdout import StdoutReader

    return StdoutReader(path, run, "pydict", pydict.parse_line, stride, marks=stdout.MARKS)


def _open_openrlhf(path: Path, run: str, stride: int) -> Reader:
    from rankinv.ingest import openrlhf_console
    from rankinv.ingest.stdout import StdoutReader

    return StdoutReader(path, run, "openrlhf", openrlhf_console.parse_line, stride)


def _open_console(path: Path, run: str, stride: int) -> Reader:
    from rankinv.ingest.lines import CONSOLE_MARKS, console_parser
    from rankinv.ingest.stdout import StdoutReader
    from rankinv.ingest.verl_console import split_block

    return StdoutReader(path, run, "console", console_parser(), stride, marks=CONSOLE_MARKS, block=split_block)


def _jsonl_line(line: str) -> Record | None:
    from rankinv.ingest import jsonl

    return jsonl.parse_line(line) if line.lstrip().startswith('{"') else None


def _verl_line(line: str) -> Record | None:
    from rankinv.ingest import verl_console

    return verl_console.parse_line(line)


def _openrlhf_line(line: str) -> Record | None:
    from rankinv.ingest import openrlhf_console

    return openrlhf_console.parse_line(line)


def _pydict_line(line: str) -> Record | None:
    from rankinv.ingest import pydict

    return pydict.parse_line(line)


CALLBACK_LOG_NAME = "rankinv.jsonl"  # written by rankinv.integrations.trl.RankinvCallback
FORMATS: tuple[LogFormat, ...] = (
    LogFormat("trainer_state", 8, _open_state, by_name=lambda n: n == "trainer_state.json"),
    LogFormat("jsonl", 1, _open_jsonl, by_name=lambda n: n.endswith((".jsonl", ".ndjson")), line=_jsonl_line),
    LogFormat("openrlhf", 5, _open_openrlhf, line=_openrlhf_line),  # before pydict: its step lines hold dicts
    LogFormat("pydict", 6, _open_pydict, line=_pydict_line),
    LogFormat("verl_console", 4, _open_verl, line=_verl_line),
    LogFormat("console", 7, _open_console),  # a text log mixing stdout dicts, verl and OpenRLHF lines
    LogFormat(
        "tensorboard", 2, _open_tensorboard, by_name=lambda n: bool(TFEVENTS.search(n)),
        available=_has_tensorboard, hint="needs the tensorboard package: pip install 'rankinv[tensorboard]'",
    ),
    LogFormat(
        "wandb", 3, _open_wandb, by_name=lambda n: n.startswith("run-") and n.endswith(".wandb"),
        available=_has_wandb, hint="needs the wandb package: pip install 'rankinv[wandb]'",
        files=_wandb_files, names=_wandb_names,
    ),
)
BY_NAME = {f.name: f for f in FORMATS}


def get(name: str) -> LogFormat:
    return BY_NAME[name]


def rank(fmt: str, path: Path) -> tuple[int, int, str]:
    """Sort key of a run's source: format priority; the callback's own JSONL before other JSONL files."""
    own = 0 if path.name == CALLBACK_LOG_NAME else 1
    return (BY_NAME[fmt].priority if fmt in BY_NAME else len(FORMATS), own, str(path))
