"""``rankinv signal``: the GRPO group-signal calculator."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rankinv.errors import RankinvError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "signal",
        help="GRPO signal for a pass rate at a group size: expected variance, degenerate groups, p*(g), headroom",
        description=(
            "How much gradient signal GRPO gets from binary rewards at pass rate p with group size g. "
            "Give --pass-rate, or --passes and --samples to use the unbiased estimators."
        ),
    )
    p.add_argument("--group-size", "-g", type=int, default=8, help="GRPO group size g (default 8)")
    p.add_argument("--pass-rate", "-p", type=float, help="per-prompt pass rate p in [0, 1]")
    p.add_argument("--passes", "-c", type=int, help="passes c observed in --samples draws")
    p.add_argument("--samples", "-n", type=int, help="samples n drawn for one prompt")
    p.add_argument("--threshold", type=float, default=0.5, help="degenerate probability defining p*(g) (default 0.5)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.set_defaults(func=run)


def compute(args: argparse.Namespace) -> dict[str, float | int | str]:
    from rankinv import advantage as adv

    g = args.group_size
    try:
        p_star = adv.p_star(g, args.threshold)
        if args.passes is not None or args.samples is not None:
            if args.passes is None or args.samples is None:
                raise RankinvError("give both --passes and --samples (or --pass-rate alone)")
            c, n = args.passes, args.samples
            p = c / n if n > 0 else float("nan")
            return {
                "basis": f"unbiased from {c}/{n}",
                "group_size": g,
                "pass_rate": p,
                "expected_variance": adv.unbiased_expected_variance(c, n, g),
                "degenerate_probability": adv.unbiased_degenerate_probability(c, n, g),
                "expected_scaled_variance": (g - 1) / g * (1 - adv.unbiased_degenerate_probability(c, n, g)),
                "p_star": p_star,
                "headroom": p / p_star,
            }
        if args.pass_rate is None:
            raise RankinvError("give --pass-rate P, or --passes C --samples N")
        p = args.pass_rate
        return {
            "basis": "exact at p",
            "group_size": g,
            "pass_rate": p,
            "expected_variance": adv.expected_variance(p, g),
            "degenerate_probability": adv.degenerate_probability(p, g),
            "expected_scaled_variance": adv.expected_scaled_variance(p, g),
            "p_star": p_star,
            "headroom": adv.headroom(p, g, args.threshold),
        }
    except ValueError as exc:
        raise RankinvError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    result = compute(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"GRPO signal at g={result['group_size']} ({result['basis']})", show_header=False)
    rows = [
        ("pass rate p", f"{result['pass_rate']:.4f}"),
        ("expected advantage variance p(1-p)(g-1)/g", f"{result['expected_variance']:.4f}"),
        ("P(degenerate group) = p^g + (1-p)^g", f"{result['degenerate_probability']:.4f}"),
        ("expected variance with TRL std scaling", f"{result['expected_scaled_variance']:.4f}"),
        (f"p*(g) (P(degenerate) = {args.threshold})", f"{result['p_star']:.4f}"),
        ("headroom p / p*(g)", f"{result['headroom']:.2f}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)
    headroom = float(result["headroom"])
    if headroom < 1:
        Console().print(
            f"[yellow]Below p*(g): most groups of {result['group_size']} will be degenerate. "
            "Raise g or pass rate before spending GPUs.[/yellow]"
        )
    return 0
