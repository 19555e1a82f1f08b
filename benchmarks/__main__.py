from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks import Result, save


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name[len("bench_") :] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Run a rankinv benchmark.")
    parser.add_argument("name", nargs="?", help=f"one of: {', '.join(available())}")
    parser.add_argument("--quick", action="store_true", help="a small version for smoke-testing the benchmark")
    args = parser.parse_args()
    if args.name not in available():
        parser.print_help()
        return 2
    module = importlib.import_module(f"benchmarks.bench_{args.name}")
    result: Result = module.run(quick=args.quick)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=result.title)
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    console = Console(width=None if sys.stdout.isatty() else 220)
    console.print(table)
    for note in result.notes:
        console.print(f"- {note}")
    if not args.quick:
        print(f"wrote {save(args.name, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
