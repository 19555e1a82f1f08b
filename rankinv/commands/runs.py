"""``rankinv runs ROOT``: the training runs under a root, their kind, checkpoints and last step."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rankinv.boundary.text import rich_text, shown
from rankinv.commands import roots


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "runs",
        help="list the training runs under a root: kind (SFT/GRPO), checkpoints (complete or why not), last step",
        description=(
            "Discover training runs under ROOT the way the daemon does: which folders are runs, SFT or GRPO, "
            "which checkpoints are complete (config and every weight shard present, whole and stable), "
            "the last logged step, and the SFT checkpoint a GRPO run started from."
        ),
    )
    roots.add_root(p, "folder holding training runs, searched recursively")
    p.add_argument("--settle", type=float, default=10.0, help="seconds a checkpoint must be unchanged (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.set_defaults(func=run)


def as_json(info: Any) -> dict[str, Any]:
    return {
        "name": info.name,
        "path": str(info.path),
        "kind": info.kind,
        "last_step": info.last_step,
        "parent": info.parent,
        "parent_run": info.parent_run,
        "manifest": info.manifest,
        "checkpoints": [
            {"path": str(c.path), "step": c.step, "complete": c.complete, "reason": c.reason} for c in info.checkpoints
        ],
        "unread_logs": [{"path": str(s.path), "reason": why} for s, why in _unread(info)],
    }


def _unread(info: Any) -> list[tuple[Any, str]]:
    """The run's logs whose optional reader is not installed here (TensorBoard, W&B), with what to install."""
    from rankinv.ingest.primary import unreadable

    return unreadable(list(info.sources))


def run(args: argparse.Namespace) -> int:
    from rankinv.discovery import discover

    runs = discover(args.root, settle_seconds=args.settle, follow_outside=_follow_outside(args.root),
                    read_unnumbered=True)  # fmt: skip
    if args.json:
        print(json.dumps([as_json(r) for r in runs], indent=2, default=str))
        return 0
    if not runs:
        print(f"no training runs under {shown(args.root)}")
        return 0
    _print_table(runs)
    for info in runs:
        for source, why in _unread(info):
            what = "; its kind and last step are unknown without it" if info.kind == "unknown" else ""
            print(shown(f"{info.name}: {_relative(source.path, info.path)} not read: {why}{what}"))
    return 0


def _relative(log: Path, run_dir: Path) -> str:
    try:
        return log.relative_to(run_dir).as_posix()
    except ValueError:
        return str(log)


def _follow_outside(root: str) -> bool:
    """``[daemon] follow_symlinks_outside_root`` from the root's config (default when it has none or a bad one)."""
    from rankinv.config import ConfigError, find_config, load_config

    try:
        found = find_config(Path(root))
        return load_config(found).daemon.follow_symlinks_outside_root if found else False
    except ConfigError:
        return False


def _checkpoint_text(info: Any) -> str:
    done = [c for c in info.checkpoints if c.complete]
    text = f"{len(done)}/{len(info.checkpoints)} complete"
    pending = [c for c in info.checkpoints if not c.complete]
    if pending:
        text += f"; step {pending[-1].step}: {pending[-1].reason}"
    return text if info.checkpoints else "none"


def _print_table(runs: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="training runs")
    for column in ("run", "kind", "checkpoints", "last step", "parent"):
        table.add_column(column, overflow="fold")  # a narrow page wraps a long name, never cuts its tail
    for info in runs:
        parent = info.parent_run or info.parent or ""
        last = "" if info.last_step is None else str(info.last_step)
        table.add_row(*(rich_text(x) for x in (info.name, info.kind, _checkpoint_text(info), last, parent)))
    Console(width=None if sys.stdout.isatty() else 200).print(table)  # piped: not squeezed into 80 columns
