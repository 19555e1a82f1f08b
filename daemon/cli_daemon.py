"""``rankinv daemon ROOT`` / ``rankinv daemon status ROOT`` / ``rankinv daemon stop ROOT``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rankinv.daemon import control
from rankinv.daemon.cli_status import typed
from rankinv.daemon.detach import detach
from rankinv.daemon.lock import holder
from rankinv.daemon.serve import Plan, plan, serve

from rankinv.boundary.text import shown
from rankinv.commands import roots
from rankinv.errors import RankinvError
from rankinv.store.private import private_dir

ACTIONS = ("status", "stop", "start")


def main(args: argparse.Namespace) -> int:
    words = list(args.target)
    if len(words) == 2 and words[0] in ACTIONS:
        action, root = words
    elif len(words) == 1 and words[0] in ACTIONS and not Path(words[0]).is_dir():
        action, root = words[0], str(roots.resolve(None))
    elif len(words) == 1:
        action, root = "start", words[0]
    elif not words:
        action, root = "start", str(roots.resolve(None))
    else:
        raise RankinvError("usage: rankinv daemon ROOT | rankinv daemon status ROOT | rankinv daemon stop ROOT")
    if action == "status":
        return show_status(root, args.state_dir, args.json)
    if action == "stop":
        return stop(root, args.state_dir)
    return start(plan(root, args.config, poll=args.poll, state_base=args.state_dir), args.foreground)


def start(p: Plan, foreground: bool) -> int:
    private_dir(p.state_dir)  # refused here, with the reason, before anything is written or detached
    running = holder(p.state_dir)
    if running is not None:
        print(f"rankinv daemon for {p.root} is already running (pid {running}); log {p.state_dir / 'daemon.log'}")
        return 0
    if foreground:
        code: int = serve(p, foreground=True, report=lambda message: _say(p, message, foreground=True))
        return code
    message: str = detach(p.state_dir / "daemon.out", lambda report: serve(p, foreground=False, report=report))
    return _say(p, message, foreground=False)


def _say(p: Plan, message: str, *, foreground: bool) -> int:
    word, _, rest = message.partition(" ")
    log = p.state_dir / "daemon.log"
    if word == "started":
        where = "in the foreground" if foreground else "in the background"
        print(f"rankinv daemon for {p.root} started {where} (pid {rest}); store {p.store_path}; log {log}",
              flush=True)  # fmt: skip
        return 0
    if word == "running":
        print(f"rankinv daemon for {p.root} is already running (pid {rest.strip() or '?'}); log {log}")
        return 0
    if word == "error:":
        print(f"rankinv: error: {rest}", file=sys.stderr)
        return 2
    print(f"rankinv: error: the daemon exited while starting; see {log} and {p.state_dir / 'daemon.out'}",
          file=sys.stderr)  # fmt: skip
    return 1


def show_status(root: str, state_base: str | None, as_json: bool) -> int:
    st = control.status(root, state_base)
    if as_json:
        fields = {k: str(v) if hasattr(v, "anchor") else v for k, v in vars(st).items()}
        fields["health"] = {k: typed(v) for k, v in st.health.items()}  # numbers and booleans, not their text
        print(json.dumps(fields, indent=2))
        return 0 if st.running else 1
    if not st.running:
        print(shown(f"no rankinv daemon is running for {st.root} (state {st.state_dir})"))
        return 1
    h = st.health
    beat = f"{time.time() - float(h['heartbeat']):.0f}s ago" if h.get("heartbeat") else "none yet"
    print(shown(f"rankinv daemon for {st.root}: running, pid {st.pid}, heartbeat {beat}"
                f"{'' if st.alive else ' (STALE: the daemon may be stuck)'}"))  # fmt: skip
    for key in ("watch_mode", "watch_reason", "armed", "triage", "last_event", "errors", "last_error"):
        if h.get(key):
            print(f"  {key:<13} {shown(h[key])}")
    print(f"  {'store':<13} {st.store_path}\n  {'log':<13} {st.log_path}")
    return 0


def stop(root: str, state_base: str | None) -> int:
    pid = control.stop(root, state_base)
    if pid is None:
        print(f"no rankinv daemon is running for {root}")
        return 0
    print(f"stopped rankinv daemon pid {pid}")
    return 0
