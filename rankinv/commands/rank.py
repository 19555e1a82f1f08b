"""``rankinv rank LADDER.json|csv``: rank offline candidates by predicted final pass@10."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError

ENTROPY_KEYS = ("entropy", "entropy_nats", "pre_rl_entropy")
ACTUAL_KEYS = ("actual", "actual_pass10", "final_pass10", "peak_pass10_after_grpo", "peak_pass10")
NAME_KEYS = ("name", "checkpoint", "run")
FIELD_ALIASES = {
    "degenerate_fraction": ("degenerate_fraction",),
    "never_solved_fraction": ("never_solved_fraction", "never_solved"),
    "headroom": ("headroom",),
    "expected_variance": ("expected_variance", "expected_adv_variance"),
}
PASS_KEY = re.compile(r"^pass_?(?:at_?)?@?(\d+)(?:_t\d+)?$")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "rank",
        help="rank SFT candidates by predicted final pass@10 after GRPO (and check against actual outcomes)",
        description=(
            "Reads a ladder (JSON with a 'ladder' list, or CSV with a header row) of candidates with their "
            "features (pass1 / pass@k, entropy, degenerate_fraction, never_solved_fraction, headroom, group_size) "
            "and optionally an actual outcome ('actual' or 'peak_pass10_after_grpo'). Prints the ranking and, "
            "where outcomes exist, Spearman(predicted, actual) next to Spearman(pass@1, actual)."
        ),
    )
    p.add_argument("ladder", help="ladder file: .json or .csv")
    p.add_argument("--config", help="rankinv.toml with [predict] settings (default: built-in defaults)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.set_defaults(func=run)


def _number(value: Any, where: str) -> float:
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RankinvError(f"{where}: expected a number, got {value!r}") from None


def _first(row: dict[str, Any], keys: tuple[str, ...], where: str) -> float:
    return next((_number(row[k], f"{where} '{k}'") for k in keys if k in row), math.nan)


def _name(row: dict[str, Any], index: int) -> str:
    for key in NAME_KEYS:
        if row.get(key) not in (None, ""):
            return str(row[key])
    if "sft_epochs" in row:
        return f"{row['sft_epochs']} epochs"
    return f"#{index + 1}"


def candidate(row: dict[str, Any], index: int, group_size: int) -> tuple[Any, float]:
    """(Features, actual outcome or NaN) for one ladder row."""
    from rankinv.predict import Features

    where = f"ladder row {index + 1}"
    curve = {int(m[1]): _number(v, f"{where} '{k}'") for k, v in row.items() if (m := PASS_KEY.match(k))}
    fields = {f: _first(row, keys, where) for f, keys in FIELD_ALIASES.items()}
    g = int(_first(row, ("group_size",), where)) if row.get("group_size") not in (None, "") else group_size
    features = Features(
        name=_name(row, index), group_size=g, entropy=_first(row, ENTROPY_KEYS, where),
        pass_at_k=tuple(sorted((k, v) for k, v in curve.items() if math.isfinite(v))),
        degenerate_fraction=fields["degenerate_fraction"], never_solved_fraction=fields["never_solved_fraction"],
        headroom=fields["headroom"], expected_variance=fields["expected_variance"],
    )
    if not 0.0 <= features.pass1 <= 1.0:
        raise RankinvError(f"{where} ({features.name}): needs a pass rate in [0, 1] as 'pass1' (or 'pass@1')")
    return features, _first(row, ACTUAL_KEYS, where)


def read_ladder(path: Path) -> tuple[list[dict[str, Any]], int | None]:
    """Rows and a file-level group size (JSON ``group_size`` or ``setup.grpo.group_size``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RankinvError(f"{path}: cannot read ladder ({exc.strerror})") from None
    if path.suffix.lower() == ".csv":
        import csv
        import io

        return list(csv.DictReader(io.StringIO(text))), None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RankinvError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}); give a .json or .csv") from None
    rows = data.get("ladder") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise RankinvError(f"{path}: expected a 'ladder' list of objects (or a top-level list)")
    g = None
    if isinstance(data, dict):
        g = data.get("group_size") or data.get("setup", {}).get("grpo", {}).get("group_size")
    return rows, int(g) if g else None


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from rankinv.config import load_config
    from rankinv.evaluate import evaluate_checkpoint
    from rankinv.stats import spearman

    cfg = load_config(args.config)
    rows, g = read_ladder(Path(args.ladder))
    if not rows:
        raise RankinvError(f"{args.ladder}: the ladder is empty")
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        features, actual = candidate(row, i, g or cfg.triage.group_size)
        p = evaluate_checkpoint(features, cfg).prediction
        out.append({"name": features.name, "predicted": p.estimate, "lo": p.lo, "hi": p.hi, "basis": p.basis,
                    "pass1": features.pass1, "entropy": features.entropy, "actual": actual, "terms": dict(p.terms)})
    out.sort(key=lambda c: -c["predicted"])
    for rank, c in enumerate(out, start=1):
        c["rank"] = rank
    have = [c for c in out if math.isfinite(c["actual"])]
    result: dict[str, Any] = {"candidates": out, "with_actual": len(have)}
    if len(have) >= 2:
        outcomes = [c["actual"] for c in have]
        result["spearman_predicted"] = spearman([c["predicted"] for c in have], outcomes)
        result["spearman_pass1"] = spearman([c["pass1"] for c in have], outcomes)
    return result


def run(args: argparse.Namespace) -> int:
    result = compute(args)
    if args.json:
        from rankinv.assess import jsonable

        print(json.dumps(jsonable(result), indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Candidates by predicted final pass@10 (basis: prior)")
    for col in ("#", "candidate", "predicted pass@10", "pass@1", "entropy", "actual"):
        table.add_column(col)
    for c in result["candidates"]:
        table.add_row(str(c["rank"]), c["name"], f"{c['predicted']:.3f} [{c['lo']:.2f}, {c['hi']:.2f}]",
                      f"{c['pass1']:.3f}", _fmt(c["entropy"]), _fmt(c["actual"]))
    console = Console()
    console.print(table)
    if "spearman_predicted" in result:
        console.print(f"Spearman(predicted, actual) = {result['spearman_predicted']:+.2f}    "
                      f"Spearman(pass@1, actual) = {result['spearman_pass1']:+.2f}    (n={result['with_actual']})")
    return 0


def _fmt(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "-"
