"""``rankinv demo``: watch rankinv judge real (tiny) training runs, replayed live into a fresh root.

The parser only: :mod:`rankinv.cli` binds the command to the daemon's demo (:mod:`rankinv.daemon.demo.command`)
and hands it the TUI to open.
"""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="replay bundled real TRL runs into a fresh root with a dry-run daemon and watch the verdicts",
        description=(
            "Sets up a temporary runs root, starts a dry-run daemon on it, and replays the bundled SFT and GRPO "
            "runs (real tiny TRL runs shipped in the package) over a minute or two: checkpoints get triaged, one "
            "checkpoint is flagged, one GRPO run collapses and gets a KILL (dry-run: only recorded and "
            "alerted). Opens the TUI on a terminal; without one (or with --headless) prints what happened."
        ),
    )
    p.add_argument("--headless", action="store_true", help="no TUI: print events and the final ranking")
    p.add_argument("--seconds-per-run", type=float, default=30.0, help="replay length of each run (default 30)")
    p.add_argument("--timeout", type=float, default=240.0, help="headless: give up after this many seconds")
    p.add_argument("--runs", help="replay these runs instead of the bundled ones")
    p.add_argument("--keep", help="use (and keep) this directory for the demo's root and state")
