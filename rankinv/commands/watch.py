"""``rankinv watch ROOT``: the live TUI, every run ranked by predicted final pass@10.

The parser only: :mod:`rankinv.cli` binds the command to the TUI's implementation (:mod:`rankinv.tui.cli_watch`).
"""

from __future__ import annotations

from typing import Any

from rankinv.commands import roots


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        help="live terminal UI: every run ranked by predicted final pass@10, verdicts, curves, keys that act",
        description=(
            "Attach to the daemon for ROOT (starting it detached if none runs) and show every SFT checkpoint "
            "and GRPO run ranked by predicted final pass@10. Quitting never stops the daemon. Press ? for keys."
        ),
    )
    roots.add_root(p)
    p.add_argument("--no-daemon", action="store_true", help="never start a daemon; view the store read-only")
    p.add_argument("--readonly", action="store_true", help="turn off every key that acts (for shared sessions)")
    p.add_argument("--state-dir", help="where daemon state and the store live (default: $XDG_STATE_HOME/rankinv)")
