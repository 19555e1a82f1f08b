"""Incremental readers that turn every supported training-log format into canonical MetricPoints.

One entry point per use:

- :func:`open_source` — a reader for one log (format auto-detected or chosen);
- :func:`sources_for_run` — the logs of a run directory with their detected formats.

Every reader has ``read_new(offset) -> (points, new_offset)``; the points are a
:class:`~rankinv.ingest.batch.Points` (a sequence of MetricPoints kept as decoded columns, which the store binds
as they are, with ``rows()`` for the live monitors); offsets are :class:`~rankinv.ingest.tail.Offset`
(frozen, ``to_json()``/``from_json()``), so a daemon can persist them and resume after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rankinv.boundary import listing
from rankinv.errors import RankinvError
from rankinv.ingest.batch import Points
from rankinv.ingest.detect import FORMATS, TENSORBOARD, TRAINER_STATE, detect_format, normalise
from rankinv.ingest.tail import START, Offset

__all__ = ["FORMATS", "START", "Offset", "Points", "Reader", "Source", "open_source", "sources_for_run"]


class Reader(Protocol):
    """What every format reader offers."""

    path: Path
    run: str
    fmt: str

    def read_new(self, offset: Offset | None = None) -> tuple[Points, Offset]: ...


@dataclass(frozen=True)
class Source:
    """One log of a run: where it is, which reader reads it, and the trainer's logging interval (for formats
    whose lines carry no step number)."""

    path: Path
    fmt: str
    logging_steps: int = 1

    def open(self, run_name: str) -> Reader:
        return open_source(self.path, run_name, self.fmt, logging_steps=self.logging_steps)


def open_source(path: str | Path, run_name: str, fmt: str = "auto", *, logging_steps: int = 1) -> Reader:
    """A reader for the log at ``path``; ``fmt`` is ``auto`` or one of :data:`FORMATS`."""
    path = Path(path)
    if not listing.exists(path):
        raise RankinvError(f"{path}: no such log file or run directory")
    fmt = normalise(fmt)
    if fmt == "auto":
        fmt = detect_format(path)
    return _reader(path, run_name, fmt, logging_steps)


def _reader(path: Path, run: str, fmt: str, logging_steps: int) -> Reader:
    from rankinv.ingest import registry

    entry = registry.get(fmt)
    if listing.is_dir(path) and fmt not in (TRAINER_STATE, TENSORBOARD):
        raise RankinvError(f"{path} is a directory; the {fmt} reader needs a log file")
    return entry.open(path, run, logging_steps)


def sources_for_run(run_dir: str | Path, extra_logs: list[Path] | tuple[Path, ...] = ()) -> list[Source]:
    """The logs of one run directory (plus stdout files elsewhere attributed to it), each with its format."""
    from rankinv.ingest.sources import list_sources

    return list_sources(Path(run_dir), extra_logs)
