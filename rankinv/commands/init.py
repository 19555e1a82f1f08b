"""``rankinv init``: write a commented ``rankinv.toml`` with every setting and its default."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rankinv.commands import roots
from rankinv.errors import RankinvError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="write ROOT/rankinv.toml listing every setting with its documentation and default",
        description="Write a commented rankinv.toml at the runs root. Refuses to overwrite one without --force.",
    )
    roots.add_root(p, hint="`rankinv init .` writes it here; or ")
    p.add_argument("--force", action="store_true", help="overwrite an existing rankinv.toml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rankinv.config import CONFIG_FILENAME, render_template

    root = Path(args.root).expanduser()
    if not root.is_dir():
        raise RankinvError(f"{root} is not a directory; create the runs root first or give an existing one")
    from rankinv.boundary.atomic import create_exclusive, write_atomic

    target = root / CONFIG_FILENAME
    exists = f"{target} already exists; edit it, or pass --force to overwrite it with the defaults"
    if os.path.lexists(target) and not args.force:
        raise RankinvError(exists)
    try:
        (write_atomic if args.force else create_exclusive)(target, render_template())
    except FileExistsError:
        raise RankinvError(exists) from None
    except OSError as exc:
        raise RankinvError(f"cannot write {target}: {exc}") from None
    print(f"wrote {target}")
    return 0
