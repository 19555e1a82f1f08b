"""``python -m examples.ladder [--quick] [--out DIR]``: run the ladder, print the table, save JSON and Markdown."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from examples.ladder.settings import FULL, QUICK


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m examples.ladder", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 depths, a few GRPO steps: checks the plumbing (CI)")
    p.add_argument("--out", help="output directory (default: a new temporary directory, kept)")
    p.add_argument("--rl-steps", type=int, help="GRPO steps per rung (default: 30 full, 6 quick)")
    p.add_argument("--seed", type=int, help="seed for the model, SFT, GRPO and sampling (default 0)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = QUICK if args.quick else FULL
    if args.rl_steps is not None:
        if args.rl_steps < 2:
            print(f"error: --rl-steps must be at least 2, got {args.rl_steps}", file=sys.stderr)
            return 2
        settings = replace(settings, rl_steps=args.rl_steps)
    if args.seed is not None:
        settings = replace(settings, seed=args.seed)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rankinv-ladder-"))
    if out.exists() and any(out.iterdir()):
        print(f"error: {out} is not empty; give a new or empty --out directory", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    from examples.ladder.pipeline import run_ladder
    from examples.ladder.table import Table
    from rankinv.errors import RankinvError

    start = time.monotonic()
    try:
        rows = run_ladder(out, settings, log=lambda line: print(line, flush=True))
    except RankinvError as exc:
        print(f"error: {exc} (artefacts so far are in {out})", file=sys.stderr)
        return 1
    command = " ".join(["python -m examples.ladder", *(["--quick"] if args.quick else []),
                        *([f"--rl-steps {args.rl_steps}"] if args.rl_steps is not None else []),
                        *([f"--seed {args.seed}"] if args.seed is not None else [])])
    table = Table(tuple(rows), settings.as_dict(), command, time.monotonic() - start)
    (out / "ladder.json").write_text(table.to_json(), encoding="utf-8")
    (out / "ladder.md").write_text(table.to_markdown(), encoding="utf-8")
    print()
    print(table.to_markdown())
    print(f"saved {out / 'ladder.json'} and {out / 'ladder.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
