"""``rankinv notify-test``: send one alert through every configured channel.

The parser only: :mod:`rankinv.cli` binds the command to the daemon's implementation.
"""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "notify-test",
        help="send one test alert through every configured channel (terminal, desktop, webhooks, command)",
        description="Send a test alert through every channel in [notify] and report what each one did.",
    )
    p.add_argument("root", nargs="?", help="runs root whose rankinv.toml to use (default: the current directory)")
    p.add_argument("--config", help="config file (default: ROOT/rankinv.toml)")
