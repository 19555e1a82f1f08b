"""Which runs root a command means when ``ROOT`` is left out: ``$RANKINV_ROOT``, else the current directory when
it is one (it holds a ``rankinv.toml`` or training runs). Shared by the commands whose ROOT is optional."""

from __future__ import annotations

import os
from pathlib import Path

from rankinv.errors import RankinvError

HELP = "the runs root (default: $RANKINV_ROOT, else the current directory when it holds runs or a rankinv.toml)"


def is_runs_root(path: Path) -> bool:
    from rankinv.config import find_config
    from rankinv.discovery import find_run_dirs

    return find_config(path) is not None or bool(find_run_dirs(path, depth=2))


def resolve(arg: str | None) -> Path:
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get("RANKINV_ROOT")
    if env:
        return Path(env).expanduser()
    here = Path.cwd()
    if is_runs_root(here):
        return here
    raise RankinvError(
        f"no ROOT given and {here} holds no training runs or rankinv.toml: pass the runs root, "
        "set RANKINV_ROOT, or run from inside the runs root"
    )
