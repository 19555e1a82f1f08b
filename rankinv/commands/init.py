"""``rankinv init``: write a commented ``rankinv.toml`` with every setting and its default."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="write ROOT/rankinv.toml listing every setting with its documentation and default",
        description="Write a commented rankinv.toml at the runs root. Refuses to overwrite one without --force.",
    )
    p.add_argument("root", metavar="ROOT", help="the runs root")
    p.add_argument("--force", action="store_true", help="overwrite an existing rankinv.toml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rankinv.config import CONFIG_FILENAME, render_template

    root = Path(args.root).expanduser()
    if not root.is_dir():
        raise RankinvError(f"{root} is not a directory; create the runs root first or give an existing one")
    target = root / CONFIG_FILENAME
    if target.exists() and not args.force:
        raise RankinvError(f"{target} already exists; edit it, or pass --force to overwrite it with the defaults")
    target.write_text(render_template(), encoding="utf-8")
    print(f"wrote {target}")
    return 0
