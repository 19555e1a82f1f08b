"""``rankinv notify-test``: send one alert through every configured channel.

The parser only: :mod:`rankinv.cli` binds the command to the daemon's implementation.
"""

from __future__ import annotations

from typing import Any

from rankinv.commands import roots


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "notify-test",
        help="send one test alert through every configured channel (terminal, desktop, webhooks, command)",
        description="Send a test alert through every channel in [notify] and report what each one did.",
    )
    roots.add_root(p, "runs root whose rankinv.toml to use", required=False)
    p.add_argument("--config", help="config file (default: ROOT/rankinv.toml)")
