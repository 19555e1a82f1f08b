"""``rankinv watch ROOT``: the live TUI, every run ranked by predicted final pass@10."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        help="live terminal UI: every run ranked by predicted final pass@10, verdicts, curves, keys that act",
        description=(
            "Attach to the daemon for ROOT (starting it detached if none runs) and show every SFT checkpoint "
            "and GRPO run ranked by predicted final pass@10. Quitting never stops the daemon. Press ? for keys."
        ),
    )
    p.add_argument("root", help="the runs root the daemon watches")
    p.add_argument("--no-daemon", action="store_true", help="never start a daemon; view the store read-only")
    p.add_argument("--readonly", action="store_true", help="turn off every key that acts (for shared sessions)")
    p.add_argument("--state-dir", help="where daemon state and the store live (default: $XDG_STATE_HOME/rankinv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).expanduser()
    if not root.is_dir():
        raise RankinvError(f"{root}: not a directory; give the runs root (the folder holding your training runs)")
    # Imported by name at run time: the core may not import Textual or rankinv.tui (an import-linter
    # contract), and `rankinv --help` must not pay for Textual.
    tui = importlib.import_module("rankinv.tui.app")
    app = tui.make_app(root, state_dir=args.state_dir, readonly=args.readonly, no_daemon=args.no_daemon)
    app.run()
    return int(app.return_code or 0)
