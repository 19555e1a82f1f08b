"""``rankinv watch ROOT``: check the root, then open the TUI on it (Textual loads only after the check)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rankinv.errors import RankinvError


def main(args: argparse.Namespace) -> int:
    root = Path(args.root).expanduser()
    if not root.is_dir():
        raise RankinvError(f"{root}: not a directory; give the runs root (the folder holding your training runs)")
    from rankinv.tui.app import make_app

    app = make_app(root, state_dir=args.state_dir, readonly=args.readonly, no_daemon=args.no_daemon)
    app.run()
    return int(app.return_code or 0)
