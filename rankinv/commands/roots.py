"""Which runs root a command means when ``ROOT`` is left out: ``$RANKINV_ROOT``, else the current directory when
it is one (it holds a ``rankinv.toml`` or training runs). Every command that takes a ROOT declares it with
:func:`add_root`; :mod:`rankinv.cli` resolves it before the command runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    here = None if os.environ.get("RANKINV_ROOT") else look_at(Path.cwd())  # looked at once, then passed along
    if how == "optional" and here is not None and not here.is_root:
        return
    args.root = str(resolve(args.root, getattr(args, "root_hint", ""), here=here))


MANY_ENTRIES = 1000  # a folder this full at its top is a home or scratch folder, not a runs root taken by default


@dataclass(frozen=True)
class Here:
    """What :func:`look_at` found of a folder: whether it is a runs root to take by default, and if it is clearly
    none, why (:func:`unlikely_root`)."""

    path: Path
    is_root: bool
    unlikely: str | None


def look_at(path: Path) -> Here:
    """Whether ``path`` is a runs root to take by default, and why not when it is clearly none: its entries are
    counted (and its runs looked for) once, for both answers."""
    from rankinv.config import find_config
    from rankinv.discovery import find_run_dirs

    if find_config(path) is not None:
        return Here(path, True, None)
    why = unlikely_root(path)
    return Here(path, why is None and bool(find_run_dirs(path, depth=2)), why)


def is_runs_root(path: Path) -> bool:
    """It holds a ``rankinv.toml``, or training runs within two levels and is not :func:`unlikely_root`."""
    return look_at(path).is_root


def unlikely_root(path: Path) -> str | None:
    """Why ``path`` is clearly no runs root to take by default (``/``, the home folder, the temp folder, a folder of
    over a thousand entries: whatever runs lie below it, so would much else), or None."""
    import tempfile

    try:
        here = path.resolve()
        special = {Path("/"): "the file system's root", Path.home().resolve(): "your home folder",
                   Path(tempfile.gettempdir()).resolve(): "the temp folder"}  # fmt: skip
        if here in special:
            return special[here]
        with os.scandir(here) as entries:
            if sum(1 for _, _ in zip(range(MANY_ENTRIES + 1), entries, strict=False)) > MANY_ENTRIES:
                return f"a folder of over {MANY_ENTRIES} entries"
    except (OSError, RuntimeError):
        return None
    return None


def resolve(arg: str | None, hint: str = "", here: Here | None = None) -> Path:
    """ROOT as given, else ``$RANKINV_ROOT``, else the current directory when it is a runs root (``here``: what
    :func:`look_at` already found of it, so it is not looked at again), else a :class:`RankinvError` saying why."""
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get("RANKINV_ROOT")
    if env:
        return Path(env).expanduser()
    if here is None:
        here = look_at(Path.cwd())
    if here.is_root:
        return here.path
    why = here.unlikely
    if why is not None:
        raise RankinvError(
            f"no ROOT given and the current directory {here.path} is {why}, not taken as a runs root by default: "
            f"{hint}pass the runs root (`.` to mean this one), set RANKINV_ROOT, or put a rankinv.toml in it"
        )
    raise RankinvError(
        f"no ROOT given and {here.path} holds no training runs or rankinv.toml: {hint}pass the runs root, "
        "set RANKINV_ROOT, or run from inside the runs root"
    )
