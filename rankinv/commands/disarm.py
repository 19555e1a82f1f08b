"""``rankinv disarm ROOT``: back to dry-run (KILL verdicts are recorded and alerted, nothing is stopped).

The parser only: :mod:`rankinv.cli` binds the command to the daemon's implementation.
"""

from __future__ import annotations

from typing import Any

from rankinv.commands import roots


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "disarm",
        help="disarm the daemon for ROOT: back to dry-run, even during a grace period",
        description="Disarm rankinv for a runs root. Overrides [actions] armed = true until `rankinv arm ROOT`.",
    )
    roots.add_root(p)
    p.add_argument("--config", help="config file (default: ROOT/rankinv.toml)")
    p.set_defaults(disarm=True, yes=True)
