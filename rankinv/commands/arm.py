"""``rankinv arm ROOT``: let the daemon stop jobs on KILL verdicts (it is dry-run until then).

The parser only: :mod:`rankinv.cli` binds the command to the daemon's implementation.
"""

from __future__ import annotations

from typing import Any

from rankinv.commands import roots


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "arm",
        help="arm the daemon for ROOT: KILL verdicts then stop your own jobs (dry-run until armed)",
        description=(
            "Arm rankinv for a runs root: KILL verdicts then signal, wait and scancel your own jobs. "
            "Takes effect at once, overrides [actions] armed, undone by `rankinv disarm ROOT`."
        ),
    )
    roots.add_root(p)
    p.add_argument("--config", help="config file (default: ROOT/rankinv.toml)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(disarm=False)
