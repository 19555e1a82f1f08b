"""The ``rankinv`` command, and the composition root: the one place the core is wired to the daemon and TUI.

Every command's parser lives in its own module under :mod:`rankinv.commands` (``add_parser(subparsers)``;
standard library only at the top, so ``rankinv --help`` stays fast). Commands whose work is the daemon's or
the TUI's are bound here to their implementation, which is imported inside the function that runs it. This
module is the single exception to the import contracts in ``pyproject.toml``: no other core module may reach
:mod:`rankinv.daemon` or :mod:`rankinv.tui`, even through another module.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from signal import SIGPIPE
from types import ModuleType

from rankinv import __version__
from rankinv.boundary.text import shown_lines
from rankinv.commands import (
    arm,
    calibrate,
    completion,
    daemon,
    demo,
    disarm,
    explain,
    init,
    metrics,
    notify_test,
    rank,
    roots,
    runs,
    signal,
    status,
    triage,
    watch,
)
from rankinv.completion import script as completion_script
from rankinv.errors import RankinvError

Runner = Callable[[argparse.Namespace], int]

# Order is the order shown in --help: the everyday commands first.
COMMANDS: tuple[ModuleType, ...] = (
    watch, demo, daemon, status, init, triage, explain, rank, calibrate, runs, metrics, signal, arm, disarm,
    notify_test, completion,
)
COMMAND_MODULES: tuple[str, ...] = tuple(m.__name__.rpartition(".")[2] for m in COMMANDS)


def _watch(args: argparse.Namespace) -> int:
    from rankinv.tui.cli_watch import main as watch_main

    return watch_main(args)


def _show_demo(root: Path, state: Path) -> None:
    from rankinv.tui.app import make_app

    make_app(root, state_dir=str(state)).run()


def _demo(args: argparse.Namespace) -> int:
    from rankinv.daemon.demo.command import main as demo_main

    return demo_main(args, show=_show_demo)


def _daemon(args: argparse.Namespace) -> int:
    from rankinv.daemon.cli_daemon import main as daemon_main

    return daemon_main(args)


def _status(args: argparse.Namespace) -> int:
    from rankinv.daemon.cli_status import main as status_main

    return status_main(args)


def _completion(args: argparse.Namespace) -> int:
    """The script is made from this very parser, so every command and option completes."""
    print(completion_script(args.shell, build_parser()), end="")
    return 0


def _arm(args: argparse.Namespace) -> int:
    from rankinv.daemon.cli_actions import arm as arm_main

    return arm_main(args)


def _notify_test(args: argparse.Namespace) -> int:
    from rankinv.daemon.cli_actions import notify_test as notify_main

    return notify_main(args)


# Subcommand → the daemon's or the TUI's implementation (their parsers leave ``func`` unset).
RUNNERS: dict[str, Runner] = {
    "watch": _watch, "demo": _demo, "daemon": _daemon, "status": _status, "arm": _arm, "disarm": _arm,
    "notify-test": _notify_test, "completion": _completion,
}


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
    for module in COMMANDS:
        module.add_parser(sub)
    for name, runner in RUNNERS.items():
        sub.choices[name].set_defaults(func=runner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        roots.resolve_args(args)  # a left-out ROOT: $RANKINV_ROOT, or the current directory when it is a runs root
        result = args.func(args)
    except RankinvError as exc:
        print(f"rankinv: error: {shown_lines(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rankinv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_gone()
    return int(result or 0)


def _reader_gone() -> int:
    """``rankinv status --json | head``: the reader left; stop quietly, as a tool killed by SIGPIPE would (the
    exit status a shell shows for one), and keep Python's flush at exit from raising again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + int(SIGPIPE)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
