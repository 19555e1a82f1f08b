"""``rankinv demo``: a fresh root, a dry-run daemon on it and the bundled runs replayed into it, shown live.

The daemon never imports the TUI, so the caller (the CLI's composition root, :mod:`rankinv.cli`) passes
``show``, which opens a viewer on the demo's root; without a terminal, or with ``--headless``, the demo
prints what happened instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from rankinv.daemon import cli_status
from rankinv.daemon.demo import headless, session

Show = Callable[[Path, Path], None]
"""show(root, state dir): open a viewer on the demo root and return when the user quits it."""


def main(args: argparse.Namespace, show: Show) -> int:
    src = session.bundled_runs(args.runs)
    with tempfile.TemporaryDirectory(prefix="rankinv-demo-") as tmp:
        workdir = (Path(args.keep).expanduser() if args.keep else Path(tmp)).resolve()
        live = session.start(src, workdir, args.seconds_per_run)
        with _ended_by_hangup(live, None if args.keep else workdir):
            try:
                if args.headless or not sys.stdout.isatty():
                    return _headless(live, args.timeout)
                show(live.root, live.state)
                return 0
            finally:
                session.finish(live)


@contextmanager
def _ended_by_hangup(live: session.Session, remove: Path | None) -> Iterator[None]:
    """A closed terminal (SIGHUP: the SSH link dropped, the tmux window killed) or a plain ``kill`` (SIGTERM) ends
    the demo's daemon, its replay and, unless kept, its folder too. Python's default for these signals exits at
    once, skipping every ``finally``, so without this the dry-run daemon would outlive the demo."""

    def ended(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_DFL)
        try:
            session.finish(live)
        finally:
            if remove is not None:
                shutil.rmtree(remove, ignore_errors=True)
            os.kill(os.getpid(), signum)  # die of the signal, as the caller expects

    hangups = (signal.SIGHUP, signal.SIGTERM)
    before = {s: signal.signal(s, ended) for s in hangups}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def _headless(live: session.Session, timeout: float) -> int:
    print(f"rankinv demo: replaying {live.root} (dry-run daemon, state in {live.state})", flush=True)
    if live.precomputed:
        print("rankinv demo: torch is not installed, so checkpoints get the triage reports shipped with the demo "
              "(pip install 'rankinv[triage]' to sample them here)", flush=True)  # fmt: skip
    snap, kills = headless.follow(live, timeout, out=lambda line: print(line, flush=True))
    cli_status.print_table(snap, kills, live.root, running=True, scanned=False)
    if not headless.settled(snap):
        print(f"rankinv demo: not settled after {timeout:.0f} s; see {live.state}", file=sys.stderr)
        return 1
    return 0
