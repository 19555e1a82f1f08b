"""A one-shot scan in a process of its own, for tests of the scan's workers: ``python -m tests.support.scan_driver
ROOT CONFIG STATE PATCH``.

The scan forks workers only when its process runs no other thread (a fork could copy a lock another thread holds),
and a pytest process often does (fixtures, earlier tests): in it, the workers would silently not run. Here the
scan is the process's only thread. ``PATCH`` names what goes wrong: ``none``; ``kill-on-doomed`` (a worker is
SIGKILLed as it starts reading the run ``doomed``); ``kill-judging-doomed`` (as it judges a batch holding it);
``no-fork`` (every ``os.fork`` fails with EAGAIN). The cut-over is 20 runs. Says on stderr ``pool: N runs, K
workers`` when workers were started for N runs, and ``fork tried`` for each refused fork.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

import rankinv.daemon.scanpool as pool
from rankinv.daemon.oneshot import OneShot, scan_once
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.serve import plan


def _spy() -> None:
    made = pool.ScanPool.__init__

    def spied(self: pool.ScanPool, scan: OneShot, runs: list[Path], children: int, state_dir: Path) -> None:
        print(f"pool: {len(runs)} runs, {children} workers", file=sys.stderr, flush=True)
        made(self, scan, runs, children, state_dir)

    pool.ScanPool.__init__ = spied  # type: ignore[method-assign]


def _patch(name: str, scan_pid: int) -> None:
    if name == "kill-on-doomed":
        inspect = OneShot.inspect

        def dies_on_doomed(self: OneShot, run_dir: Path, run: str, *args: Any, **kwargs: Any) -> Any:
            if run == "doomed" and os.getpid() != scan_pid:
                os.kill(os.getpid(), signal.SIGKILL)
            return inspect(self, run_dir, run, *args, **kwargs)

        OneShot.inspect = dies_on_doomed  # type: ignore[method-assign]
    elif name == "kill-judging-doomed":
        judge = Pipeline.judge

        def dies_judging(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
            if os.getpid() != scan_pid and any(self.layout.runs.get(d) == "doomed" for d in args[0]):
                os.kill(os.getpid(), signal.SIGKILL)
            return judge(self, *args, **kwargs)

        Pipeline.judge = dies_judging  # type: ignore[method-assign]
    elif name == "no-fork":

        def no_fork() -> NoReturn:
            print("fork tried", file=sys.stderr, flush=True)
            raise BlockingIOError(11, "Resource temporarily unavailable")

        os.fork = no_fork
    elif name != "none":
        raise SystemExit(f"unknown patch {name!r}")


def main() -> int:
    root, config, state, patch = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    pool.CUTOVER = 20
    _spy()
    _patch(patch, os.getpid())
    return 0 if scan_once(plan(root, config, state_base=state)) else 3


if __name__ == "__main__":
    sys.exit(main())
