"""``rankinv status ROOT``: the ranked table from the store (after a one-shot scan when no daemon runs)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from rankinv.daemon import control
from rankinv.daemon.gcpause import rare_collections
from rankinv.daemon.oneshot import scan_once
from rankinv.daemon.plain_table import print_plain
from rankinv.daemon.serve import plan

from rankinv.assess import jsonable
from rankinv.boundary.text import rich_text, shown
from rankinv.store import ActionRecord, Candidate, EventRecord, ReadStore, Snapshot
from rankinv.vocabulary import KINDS, drop_order, interval_text, job_cell, job_text, label, percent_text, row_label


def main(args: argparse.Namespace) -> int:
    with rare_collections():  # a one-shot command: what it builds lives to its end
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    p = plan(args.root, args.config, state_base=args.state_dir)
    st = control.status(p.root, p.state_dir.parent.parent if args.state_dir is None else args.state_dir)
    scanned = False
    if not st.running:
        scanned = scan_once(p)
    store = ReadStore.open(p.store_path)
    try:
        snap = store.snapshot(events=10)
        kills = store.latest_kills()
        errors = store.run_errors()
        notes = () if args.json else store.ingest_notes(NOTES_SHOWN + 1)
    finally:
        store.close()
    if args.json:
        print(json.dumps(to_json(snap, kills, st.running, scanned), indent=2, allow_nan=False, default=str))
    else:
        print_table(snap, kills, p.root, st.running, scanned)
        for name, error in sorted(errors.items()):
            print(shown(f"{name}: {error}"))
        print_notes(snap, notes)
    return 0


NOTES_SHOWN = 20


def print_notes(snap: Snapshot, notes: tuple[EventRecord, ...]) -> None:
    """The readers' notes on the runs shown (a step that cannot be one, a line that is not JSON, NaN kept as
    missing...), the newest :data:`NOTES_SHOWN`, by run and message: what in a log was not read as it said, and
    why (in the same order whichever pass, the daemon's or a one-shot scan, read the runs first)."""
    shown_runs = {c.run for c in snap.candidates}
    kept = sorted((e.run, e.message) for e in notes[:NOTES_SHOWN] if e.run in shown_runs)
    for run, message in kept:
        print(shown(f"{run}: note: {message}"))
    if len(notes) > NOTES_SHOWN:
        print(f"(only the newest {NOTES_SHOWN} notes are shown: the TUI's event feed and the daemon log hold all)")


_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def typed(value: str) -> Any:
    """A health value as JSON should carry it: the store keeps text, but ``"27088"`` is a number and ``"false"``
    a boolean. Anything else (a root, a last-event line) stays a string."""
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return jsonable(float(value))
    return value


def to_json(snap: Snapshot, kills: dict[str, ActionRecord], running: bool, scanned: bool) -> dict[str, Any]:
    """Keys are the :class:`Candidate` fields, the same ones :mod:`rankinv.vocabulary` explains; ``label`` is the
    row name the tables print, ``job`` the job cell they print, and ``kill`` the run's newest kill action (its
    target, ledger state and whether it was a dry run), or null."""
    return {
        "daemon_running": running,
        "one_shot_scan": scanned,
        "taken_at": snap.taken_at,
        "health": {k: typed(v) for k, v in snap.health.values.items()},
        "daemon_alive": snap.health.alive,
        "candidates": [
            {"label": row_label(c.run, c.checkpoint), **{k: jsonable(v) for k, v in dataclasses.asdict(c).items()},
             "job": _job(c, _kill_of(c, kills)), "kill": _kill_json(_kill_of(c, kills))}
            for c in snap.candidates
        ],
        "events": [dataclasses.asdict(e) for e in snap.events],
    }


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None or not math.isfinite(x) else fmt.format(x)


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else percent_text(x)


def _predicted(c: Candidate) -> str:
    return interval_text(c.predicted, c.predicted_lo, c.predicted_hi) or "-"


def _label(c: Candidate) -> str:
    return row_label(c.run, c.checkpoint)


def _kill_of(c: Candidate, kills: dict[str, ActionRecord]) -> ActionRecord | None:
    """A GRPO run's newest kill (a checkpoint's row is not its run's job)."""
    return kills.get(c.run) if c.checkpoint is None else None


def _kill_json(kill: ActionRecord | None) -> dict[str, Any] | None:
    return None if kill is None else {"target": kill.target, "state": kill.state, "dry_run": kill.dry_run}


def _job(c: Candidate, kill: ActionRecord | None) -> str:
    """The TUI's job cell: the job Slurm last reported, else the one the kill aimed at, and what the kill did."""
    return job_cell(job_text(c.job_id, c.job_state, c.job_elapsed, c.job_node), c.status,
                    (kill.target, kill.state, kill.detail) if kill else None)  # fmt: skip


def _cells(rank: int, c: Candidate, kill: ActionRecord | None) -> tuple[str, ...]:
    return (
        str(rank), _label(c), KINDS.get(c.kind, c.kind), _num(c.step, "{:.0f}"), _predicted(c), c.basis or "-",
        _num(c.pre_rl_entropy), _num(c.headroom), _num(c.live_entropy), _pct(c.entropy_drop),
        _pct(c.zero_std_fraction), c.verdict or "-", _pct(c.confidence), _job(c, kill),
    )  # fmt: skip


def _shown_row(cells: tuple[str, ...]) -> list[str]:
    """Each cell :func:`shown`; a row of printable ASCII (nearly every row) is tested once, not cell by cell."""
    joined = "".join(cells)
    return list(cells) if joined.isascii() and joined.isprintable() else [shown(cell) for cell in cells]


# The TUI's columns, in its order, named by the shared vocabulary (sparklines have no place in a printed table).
COLUMNS = ("#", "run", "kind", "step", "predicted", "basis", "pre_rl_entropy", "headroom", "live_entropy",
           "entropy_drop", "zero_std_fraction", "verdict", "confidence", "job")  # fmt: skip


# What a terminal too narrow for the whole table leaves out, first to last: the vocabulary's column priorities, the
# TUI's too, so the run names keep room; "#", run, pass@10 and verdict always show (Rich folds them if it must, never
# cuts them).
NARROW_DROP = drop_order(COLUMNS)


def _fitting(headers: list[str], rows: list[list[str]], width: int) -> tuple[list[str], list[list[str]], list[str]]:
    """The headers and rows without the columns that must go for the table to fit ``width`` cells (natural widths,
    Rich's frame: three cells a column and one), and the labels of those left out."""
    from rich.cells import cell_len

    widths = [max(cell_len(h), *(cell_len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    kept = list(range(len(headers)))
    for key in NARROW_DROP:
        if sum(widths[i] + 3 for i in kept) + 1 <= width:
            break
        kept.remove(COLUMNS.index(key))
    gone = [headers[i] for i in range(len(headers)) if i not in kept]
    return [headers[i] for i in kept], [[r[i] for i in kept] for r in rows], gone


def print_table(snap: Snapshot, kills: dict[str, ActionRecord], root: Path, running: bool, scanned: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    source = "daemon running" if running else ("one-shot scan (no daemon running)" if scanned else "store")
    title = rich_text(f"rankinv status: {root} — {source}")
    headers = [label(key) if key != "#" else "#" for key in COLUMNS]
    rows = [_shown_row(_cells(rank, c, _kill_of(c, kills))) for rank, c in enumerate(snap.candidates, start=1)]
    console = Console(width=None if sys.stdout.isatty() else 200)  # piped output: do not squeeze into 80 columns
    left_out: list[str] = []
    if console.is_terminal:
        headers, rows, left_out = _fitting(headers, rows, console.width)
    if not snap.candidates:  # the title and what to expect, not an empty table's borders
        console.print(title)
        console.print(rich_text(f"no training runs found under {root} yet: a run is a folder holding a trainer's "
                                "logs (trainer_state.json, rankinv.jsonl, a Slurm .out, ...); `rankinv runs` "
                                "lists what is found"))  # fmt: skip
        return
    if not print_plain(console, title, headers, rows):
        from rich.text import Text

        table = Table(title=title)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))  # a run name is data, never markup (shown: escaped)
        console.print(table)
    if left_out:
        console.print(rich_text(f"left out to fit {console.width} columns: {', '.join(left_out)} (a wider terminal, "
                                "`rankinv status | cat` or `--json` shows every column)"))  # fmt: skip
    for c in snap.candidates:
        if c.verdict_summary and c.verdict in ("KILL", "WATCH"):
            console.print(rich_text(f"{_label(c)}: {c.verdict_summary}"))
