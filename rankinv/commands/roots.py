"""Which runs root a command means when ``ROOT`` is left out: ``$RANKINV_ROOT``, else the current directory when
it is one (it holds a ``rankinv.toml`` or training runs). Every command that takes a ROOT declares it with
:func:`add_root`; :mod:`rankinv.cli` resolves it before the command runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError

DEFAULT = "default: $RANKINV_ROOT, else the current directory when it holds runs or a rankinv.toml"
HELP = f"the runs root ({DEFAULT})"


def add_root(p: Any, what: str = "the runs root", required: bool = True, hint: str = "") -> None:
    """A ``ROOT`` positional that may be left out; ``required=False``: with no default found, ROOT stays None;
    ``hint``: what the error for a missing ROOT suggests first."""
    p.add_argument("root", nargs="?", metavar="ROOT", help=f"{what} ({DEFAULT})")
    p.set_defaults(root_default="required" if required else "optional", root_hint=hint)


def resolve_args(args: Any) -> None:
    """Fill a left-out ROOT in parsed arguments (commands declared with :func:`add_root`)."""
    how = getattr(args, "root_default", None)
    if how is None or args.root:
        return
    if how == "optional" and not os.environ.get("RANKINV_ROOT") and not is_runs_root(Path.cwd()):
        return
    args.root = str(resolve(args.root, getattr(args, "root_hint", "")))


def is_runs_root(path: Path) -> bool:
    from rankinv.config import find_config
    from rankinv.discovery import find_run_dirs

    return find_config(path) is not None or bool(find_run_dirs(path, depth=2))


def resolve(arg: str | None, hint: str = "") -> Path:
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get("RANKINV_ROOT")
    if env:
        return Path(env).expanduser()
    here = Path.cwd()
    if is_runs_root(here):
        return here
    raise RankinvError(
        f"no ROOT given and {here} holds no training runs or rankinv.toml: {hint}pass the runs root, "
        "set RANKINV_ROOT, or run from inside the runs root"
    )
