"""The ``rankinv`` command: a thin layer over the library.

Each command lives in its own module under :mod:`rankinv.commands` and exposes ``add_parser(subparsers)``;
those modules import only the standard library at the top so ``rankinv --help`` stays fast. Heavy
dependencies (torch, transformers, textual) load inside the command that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rankinv import __version__
from rankinv.errors import RankinvError

# Order is the order shown in --help: the everyday commands first.
COMMAND_MODULES: tuple[str, ...] = (
    "watch",
    "demo",
    "daemon",
    "status",
    "init",
    "triage",
    "explain",
    "rank",
    "calibrate",
    "runs",
    "metrics",
    "signal",
    "arm",
    "disarm",
    "notify_test",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankinv",
        description=(
            "Catch SFT checkpoints that will fail under GRPO (entropy collapse, no group signal) "
            "and stop GRPO runs that already are."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rankinv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"rankinv.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except RankinvError as exc:
        print(f"rankinv: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rankinv: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
