"""``rankinv metrics PATH``: the metric series rankinv reads from a log file or a run directory."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from rankinv.boundary.text import rich_text, shown


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "metrics",
        help="show the metric series parsed from a log file or run directory (check a number that looks wrong)",
        description=(
            "Read PATH with rankinv's readers and print each canonical metric (entropy, reward_mean, kl …): "
            "points, step range, last value and the file it came from. PATH is a log file (stdout, verl console, "
            "OpenRLHF stdout, JSONL, TensorBoard events, a W&B run file, trainer_state.json) or a run directory "
            "(all its logs)."
        ),
    )
    p.add_argument("path", help="log file or run directory")
    p.add_argument("--format", default="auto", help="reader for a log file (default auto): " + _formats())
    p.add_argument("--name", action="append", default=[], help="print every point of this metric (repeatable)")
    p.add_argument(
        "--logging-steps", type=int, default=None, metavar="N",
        help="the trainer's logging interval, for a stdout file without a progress bar or trainer_state.json",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print every point as JSON for machines")
    p.set_defaults(func=run)


def _formats() -> str:
    from rankinv.ingest.detect import FORMATS

    return ", ".join(FORMATS)


def read_points(path_text: str, fmt: str, logging_steps: int | None = None) -> list[tuple[str, Any]]:
    """(source label, point) for every point readable at the path; a log whose optional reader is not installed
    is skipped with a note when the run has other logs, and records skipped for their step are noted (stderr)."""
    import sys
    from dataclasses import replace
    from pathlib import Path

    from rankinv.boundary.files import confined
    from rankinv.errors import RankinvError
    from rankinv.ingest import open_source, registry, sources_for_run

    path = Path(path_text)
    if path.is_dir() and fmt == "auto":
        with confined(path):  # a run directory's logs: not through symlinks that leave it
            sources = sources_for_run(path)
            if not sources:
                raise RankinvError(f"{path}: no training logs found (trainer_state.json, *.jsonl, trainer stdout "
                                   "*.out/*.log, tfevents, wandb/); a stdout its job wrote elsewhere (logs/%x-%j.out):"
                                   " give that file")  # fmt: skip
            readable = [s for s in sources if registry.get(s.fmt).missing() is None]
            for s in sources:
                if s not in readable and readable:
                    print(f"note: {s.path.name} not read ({registry.get(s.fmt).missing()})", file=sys.stderr)
            chosen = readable or sources  # none readable: let the reader say what to install
            picked = [replace(s, logging_steps=logging_steps) if logging_steps else s for s in chosen]
            reads = [(s, _noted(s.open(path.name).read_new(None)[0])) for s in picked]
            return [(f"{s.path.name} ({s.fmt})", p) for s, found in reads for p in found]
    reader = open_source(path, path.stem, fmt, logging_steps=logging_steps or 1)
    return [(f"{reader.path.name} ({reader.fmt})", p) for p in _noted(reader.read_new(None)[0])]


def _noted(points: Any) -> Any:
    """The points, after printing the read's notes of records skipped for their step (as the daemon's feed has them)."""
    import sys

    for note in points.notes.values():
        print(shown(f"note: {note.message()}"), file=sys.stderr)
    return points


def run(args: argparse.Namespace) -> int:
    found = read_points(args.path, args.format, args.logging_steps)
    if args.json:
        rows = [{"source": s, "run": p.run, "step": p.step, "name": p.name, "value": _num(p.value), "time": p.time}
                for s, p in found]
        print(json.dumps(rows, indent=1))
        return 0
    if not found:
        print(shown(f"{args.path}: no metric records yet"))
        return 0
    _summary(found)
    for name in args.name:
        _series(found, name)
    return 0


def _num(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _summary(found: list[tuple[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="metric series")
    table.add_column("metric", no_wrap=True)
    for column in ("points", "steps", "last value", "source"):
        table.add_column(column)
    groups: dict[tuple[str, str], list[Any]] = {}
    for source, point in found:
        groups.setdefault((point.name, source), []).append(point)
    for (name, source), pts in sorted(groups.items()):
        steps = f"{min(p.step for p in pts)}–{max(p.step for p in pts)}"
        table.add_row(*(rich_text(x) for x in (name, str(len(pts)), steps, f"{pts[-1].value:.6g}", source)))
    Console().print(table)


def _series(found: list[tuple[str, Any]], name: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=rich_text(name))
    for column in ("step", "value", "source"):
        table.add_column(column)
    for source, point in found:
        if point.name == name:
            table.add_row(*(rich_text(x) for x in (str(point.step), f"{point.value:.6g}", source)))
    Console().print(table if table.row_count else rich_text(f"no points named {name!r}"))
