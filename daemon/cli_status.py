"""``rankinv status ROOT``: the ranked table from the store (after a one-shot scan when no daemon runs)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

from rankinv.daemon import control
from rankinv.daemon.oneshot import scan_once
from rankinv.daemon.serve import plan

from rankinv.assess import jsonable
from rankinv.boundary.text import rich_text, shown
from rankinv.store import Candidate, ReadStore, Snapshot


def main(args: argparse.Namespace) -> int:
    p = plan(args.root, args.config, state_base=args.state_dir)
    st = control.status(p.root, p.state_dir.parent.parent if args.state_dir is None else args.state_dir)
    scanned = False
    if not st.running:
        scanned = scan_once(p)
    store = ReadStore.open(p.store_path)
    try:
        snap = store.snapshot(events=10)
        errors = {r.name: r.error or "" for r in store.runs() if r.status in ("error", "vanished")}
    finally:
        store.close()
    if args.json:
        print(json.dumps(to_json(snap, st.running, scanned), indent=2, allow_nan=False, default=str))
    else:
        print_table(snap, p.root, st.running, scanned)
        for name, error in sorted(errors.items()):
            print(shown(f"{name}: {error}"))
    return 0


def to_json(snap: Snapshot, running: bool, scanned: bool) -> dict[str, Any]:
    return {
        "daemon_running": running,
        "one_shot_scan": scanned,
        "taken_at": snap.taken_at,
        "health": snap.health.values,
        "candidates": [{k: jsonable(v) for k, v in dataclasses.asdict(c).items()} for c in snap.candidates],
        "events": [dataclasses.asdict(e) for e in snap.events],
    }


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None or not math.isfinite(x) else fmt.format(x)


def _predicted(c: Candidate) -> str:
    if c.predicted is None:
        return "-"
    if c.predicted_lo is None or c.predicted_hi is None:
        return f"{c.predicted:.2f}"
    return f"{c.predicted:.2f} [{c.predicted_lo:.2f}, {c.predicted_hi:.2f}]"  # asymmetric: never ±


def _label(c: Candidate) -> str:
    return f"{c.run} {Path(c.checkpoint).name}" if c.checkpoint else c.run


def print_table(snap: Snapshot, root: Path, running: bool, scanned: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    source = "daemon running" if running else ("one-shot scan (no daemon running)" if scanned else "store")
    table = Table(title=rich_text(f"rankinv status: {root} — {source}"))
    for col in ("#", "run", "kind", "step", "pred pass@10", "basis", "verdict", "pre-RL H", "headroom", "live H",
                "H drop", "zero-std", "status"):  # fmt: skip
        table.add_column(col, overflow="fold")
    for rank, c in enumerate(snap.candidates, start=1):
        cells = (
            str(rank), _label(c), c.kind, _num(c.step, "{:.0f}"), _predicted(c), c.basis or "-", c.verdict or "-",
            _num(c.pre_rl_entropy), _num(c.headroom), _num(c.live_entropy), _num(c.entropy_drop, "{:.0%}"),
            _num(c.zero_std_fraction), c.status if c.status != "error" else "error",
        )  # fmt: skip
        table.add_row(*(rich_text(cell) for cell in cells))
    console = Console(width=None if sys.stdout.isatty() else 200)  # piped output: do not squeeze into 80 columns
    console.print(table)
    if not snap.candidates:
        console.print(rich_text(f"no training runs found under {root} yet"))
    for c in snap.candidates:
        if c.verdict_summary and c.verdict in ("KILL", "WATCH"):
            console.print(rich_text(f"{_label(c)}: {c.verdict_summary}"))
