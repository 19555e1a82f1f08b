"""``python -m examples.ladder [--task digits|hump|collapse] [--quick] [--rl-steps N] [--seed N] [--out DIR]``: run the
ladder, print the table, save it as JSON and Markdown."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from examples.ladder.settings import PRESETS, LadderSettings


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m examples.ladder", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 depths, a few GRPO steps: checks the plumbing (CI)")
    p.add_argument("--out", help="output directory, new or empty (default: a new temporary directory, kept)")
    p.add_argument("--rl-steps", type=int, help="GRPO steps per rung (default: 30 full, 6 quick)")
    p.add_argument("--seed", type=int, help="seed for the model, SFT, GRPO and sampling (default 0)")
    p.add_argument("--task", choices=("digits", "hump", "collapse"), default="digits",
                   help="digits: the first toy task; hump: the task built to show both sides of the hump; "
                        "collapse: the hump task under GRPO settings in which runs collapse")
    return p.parse_args(argv)


def settings_for(args: argparse.Namespace) -> LadderSettings:
    settings = PRESETS[(args.task, bool(args.quick))]
    if args.rl_steps is not None:
        settings = replace(settings, rl_steps=args.rl_steps)
    return settings if args.seed is None else replace(settings, seed=args.seed)


def problem(args: argparse.Namespace, out: Path) -> str | None:
    """What is wrong with the arguments, before anything is written."""
    if args.rl_steps is not None and args.rl_steps < 2:
        return f"--rl-steps must be at least 2, got {args.rl_steps}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        return f"{out} is not an empty directory; give a new or empty --out directory"
    return None


def command_line(args: argparse.Namespace) -> str:
    parts = ["python -m examples.ladder", f"--task {args.task}" if args.task != "digits" else ""]
    parts += ["--quick" if args.quick else ""]
    parts += [f"--rl-steps {args.rl_steps}" if args.rl_steps is not None else ""]
    parts += [f"--seed {args.seed}" if args.seed is not None else ""]
    return " ".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rankinv-ladder-"))
    error = problem(args, out)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    from examples.ladder.pipeline import run_ladder
    from examples.ladder.table import Table
    from rankinv.errors import RankinvError

    start = time.monotonic()
    try:
        rows = run_ladder(out, settings_for(args), log=lambda line: print(line, flush=True))
    except RankinvError as exc:
        print(f"error: {exc} (artefacts so far are in {out})", file=sys.stderr)
        return 1
    table = Table(tuple(rows), settings_for(args).as_dict(), command_line(args), time.monotonic() - start)
    (out / "ladder.json").write_text(table.to_json(), encoding="utf-8")
    (out / "ladder.md").write_text(table.to_markdown(), encoding="utf-8")
    print(f"\n{table.to_markdown()}\nsaved {out / 'ladder.json'} and {out / 'ladder.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
