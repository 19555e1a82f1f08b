"""``rankinv status``: every run and checkpoint ranked by predicted final pass@10, from the store.

The parser only: :mod:`rankinv.cli` binds the command to the daemon's implementation.
"""

from __future__ import annotations

from typing import Any

from rankinv.commands import roots


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "status",
        help="ranked table of runs and checkpoints (predicted pass@10, verdicts, key signals) from the store",
        description=(
            "Reads the daemon's store for ROOT. When no daemon is running, first does one scan of ROOT (ingest, "
            "callback triage reports, verdicts; never acts on a job), so it always answers."
        ),
    )
    roots.add_root(p)
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.add_argument("--config", help="rankinv.toml to use (default: ROOT/rankinv.toml if present)")
    p.add_argument("--state-dir", help="base directory of the store (default: XDG state dir)")
