"""``rankinv notify-test``, ``rankinv arm`` and ``rankinv disarm``: the daemon-side halves of core commands.

The core holds only these commands' parsers (``rankinv/commands/``); the CLI's composition root,
:mod:`rankinv.cli`, calls one function here with the parsed arguments.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import socket
import sys
import time
from pathlib import Path

from rankinv.daemon.actions.arming import arm_file, read_armed, set_armed
from rankinv.daemon.notify.dispatch import build_dispatcher
from rankinv.daemon.notify.event import Event

from rankinv.config import Config, find_config, load_config
from rankinv.errors import RankinvError


def _config(args: argparse.Namespace, root: Path | None) -> Config:
    return load_config(args.config or (find_config(root) if root else None))


def _root(value: str) -> Path:
    root = Path(value).expanduser()
    if not root.is_dir():
        raise RankinvError(f"{root}: not a directory (give the runs root the daemon watches)")
    return root.resolve()


def notify_test(args: argparse.Namespace) -> int:
    """Send one test alert through every configured channel and say what each did."""
    root = _root(args.root) if args.root else None
    config = _config(args, root or Path.cwd())
    try:
        dispatcher = build_dispatcher(config.notify, terminal=sys.stdout.buffer)
    except ValueError as exc:
        raise RankinvError(f"cannot set up alerts: {exc}") from None
    if not dispatcher.channels:
        raise RankinvError("no alert channel is configured: enable one in [notify] (see `rankinv init`)")
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    event = Event("test", "rankinv test alert", f"from {who}: alerts reach you", severity="info", key=str(time.time()))
    logging.getLogger("rankinv.notify").setLevel(logging.ERROR)  # each outcome is printed below instead
    results = dispatcher.send(event)
    for result in results:
        word = "ok     " if result.ok else "skipped" if result.skipped else "FAILED "
        print(f"{word} {result.channel}: {result.detail}")
    failed = [r for r in results if not r.ok and not r.skipped]
    return 1 if failed or not any(r.ok for r in results) else 0


def arm(args: argparse.Namespace) -> int:
    """Arm (or with ``args.disarm``, disarm) the daemon for a runs root."""
    root = _root(args.root)
    config = _config(args, root)
    base = config.daemon.state_dir
    if args.disarm:
        state = set_armed(root, False, base, by="rankinv disarm")
        print(f"{root}: {state.source}. KILL verdicts are now recorded and alerted only (dry-run).")
        return 0
    if not args.yes and not _confirm(root, config):
        print("not armed")
        return 1
    state = set_armed(root, True, base, by="rankinv arm")
    print(f"{root}: {state.source}. KILL verdicts now stop your own jobs (graceful signal, grace, scancel).")
    print(f"undo with `rankinv disarm {args.root}`; the switch is {arm_file(root, base)}")
    return 0


def _confirm(root: Path, config: Config) -> bool:
    if not sys.stdin.isatty():
        raise RankinvError("arming stops jobs: confirm with --yes when not running interactively")
    current = read_armed(root, config.actions, config.daemon.state_dir).source
    answer = input(f"Arm rankinv for {root}? It will stop your jobs on KILL verdicts. (now: {current}) [y/N] ")
    return answer.strip().lower() in ("y", "yes")
