"""``rankinv daemon``: run, inspect or stop the watching daemon for a runs root.

The parser only: :mod:`rankinv.cli` binds the command to the daemon's implementation.
"""

from __future__ import annotations

from typing import Any

from rankinv.commands import roots


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "daemon",
        help="watch a runs root: ingest logs, triage checkpoints, issue verdicts (detaches; status/stop)",
        usage="rankinv daemon [status|stop] [ROOT] [--config FILE] [--foreground] [--poll] [--state-dir DIR] [--json]",
        description=(
            "rankinv daemon ROOT starts the daemon for ROOT (one per root and host; a second start reports the "
            "running one). rankinv daemon status ROOT and rankinv daemon stop ROOT inspect or stop it."
        ),
    )
    p.add_argument(
        "target", nargs="*", metavar="ROOT",
        help=f"the runs root, optionally after the word status or stop ({roots.DEFAULT})",
    )
    p.add_argument("--config", help="rankinv.toml to use (default: ROOT/rankinv.toml if present)")
    p.add_argument("--foreground", action="store_true", help="do not detach (systemd, tmux, an sbatch job)")
    p.add_argument("--poll", action="store_true", help="stat-poll instead of inotify (forced on NFS/Lustre anyway)")
    p.add_argument("--state-dir", help="base directory for the store, pidfile and log (default: XDG state dir)")
    p.add_argument("--json", action="store_true", help="with status: print JSON")
