"""``rankinv demo``: watch rankinv judge real (tiny) training runs, replayed live into a fresh root."""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="replay bundled real TRL runs into a fresh root with a dry-run daemon and watch the verdicts",
        description=(
            "Sets up a temporary runs root, starts a dry-run daemon on it, and replays the bundled SFT and GRPO "
            "runs (real tiny TRL runs, examples/runs/) over a minute or two: checkpoints get triaged, one "
            "checkpoint is flagged, one GRPO run collapses and gets a KILL (dry-run: only recorded and "
            "alerted). Opens the TUI on a terminal; without one (or with --headless) prints what happened."
        ),
    )
    p.add_argument("--headless", action="store_true", help="no TUI: print events and the final ranking")
    p.add_argument("--seconds-per-run", type=float, default=30.0, help="replay length of each run (default 30)")
    p.add_argument("--timeout", type=float, default=240.0, help="headless: give up after this many seconds")
    p.add_argument("--runs", help="replay these runs instead of the bundled examples/runs/")
    p.add_argument("--keep", help="use (and keep) this directory for the demo's root and state")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported by name: the core may not import rankinv.daemon or rankinv.tui statically (import contracts).
    session_mod = importlib.import_module("rankinv.daemon.demo.session")
    src = session_mod.bundled_runs(args.runs)
    with tempfile.TemporaryDirectory(prefix="rankinv-demo-") as tmp:
        workdir = Path(args.keep).expanduser() if args.keep else Path(tmp)
        session = session_mod.start(src, workdir, args.seconds_per_run)
        try:
            if args.headless or not sys.stdout.isatty():
                return _headless(session, args.timeout)
            app = importlib.import_module("rankinv.tui.app").make_app(session.root, state_dir=str(session.state))
            app.run()
            return 0
        finally:
            session_mod.finish(session)


def _headless(session: Any, timeout: float) -> int:
    headless = importlib.import_module("rankinv.daemon.demo.headless")
    status = importlib.import_module("rankinv.daemon.cli_status")
    print(f"rankinv demo: replaying {session.root} (dry-run daemon, state in {session.state})", flush=True)
    snap = headless.follow(session, timeout, out=lambda line: print(line, flush=True))
    status.print_table(snap, session.root, running=True, scanned=False)
    if not headless.settled(snap):
        print(f"rankinv demo: not settled after {timeout:.0f} s; see {session.state}", file=sys.stderr)
        return 1
    return 0
