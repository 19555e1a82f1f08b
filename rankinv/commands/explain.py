"""``rankinv explain RUN``: the monitor → prediction → verdict reasoning for one run, without a daemon."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "explain",
        help="explain a run's verdict: entropy drop, group signal, predicted pass@10, KILL/CONTINUE/WATCH reasons",
        description=(
            "Reads the run's logs (any supported format) and the triage report of its starting checkpoint, then "
            "runs stage 2, the prediction and the verdict exactly as the daemon would. Works on a bare run "
            "directory; no daemon or store needed."
        ),
    )
    p.add_argument("run", help="a run directory, or a run name under --root")
    p.add_argument("--root", help="runs root to resolve a run name in (and to find rankinv.toml); default: "
                   "$RANKINV_ROOT, else the current directory when it is a runs root")  # fmt: skip
    p.set_defaults(root_default="optional")
    p.add_argument("--config", help="rankinv.toml to use (default: ROOT/rankinv.toml, else the run's parent's)")
    p.add_argument("--pin", action="store_true", help="treat the run as pinned CONTINUE (a per-run override)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.set_defaults(func=run)


def resolve(run: str, root: str | None) -> Path:
    path = Path(run)
    if path.is_dir() or path.is_file():  # a run directory, or a stdout file that is a run of its own
        return path
    if root is not None and (Path(root) / run).exists():
        return Path(root) / run
    where = f" under {root}" if root else ""
    raise RankinvError(f"run {run!r} not found{where}: give a run directory, or --root ROOT with a run name")


def _name(root: Path, run_dir: Path) -> str:
    """The run's name as ``rankinv status`` and the TUI give it (:func:`rankinv.discovery.run_name`: its path under
    the root, ``logs/grpo-4242.out``), or its own name where it is not under the root."""
    from rankinv.discovery import run_name

    try:
        return run_name(root.resolve(), run_dir.resolve())
    except (OSError, ValueError):
        return run_dir.name


def config_for(args: argparse.Namespace, run_dir: Path) -> Any:
    from rankinv.config import find_config, load_config

    if args.config:
        return load_config(args.config)
    for folder in ([Path(args.root)] if args.root else []) + [run_dir.parent, run_dir]:
        found = find_config(folder)
        if found is not None:
            return load_config(found)
    return load_config(None)


def run(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from rankinv.assess import assess, to_dict
    from rankinv.boundary.files import confined
    from rankinv.boundary.text import shown
    from rankinv.discovery import attributed_logs

    run_dir = resolve(args.run, args.root)
    config = config_for(args, run_dir)
    # Inside --root, reads stay in it (as the daemon's do); a bare run directory may name its parent's report anywhere.
    follow = config.daemon.follow_symlinks_outside_root
    with confined(args.root, follow_outside=follow) if args.root else nullcontext():
        root = Path(args.root) if args.root else run_dir.parent
        name = _name(root, run_dir)
        result = assess(run_dir, config, name=name, pinned=args.pin, extra_logs=attributed_logs(root, run_dir))
    if args.json:
        print(json.dumps(to_dict(result), indent=2))
        return 0
    print("\n".join(shown(line) for line in render(result)))
    return 0


def _f(x: float | None, spec: str = ".3f") -> str:
    """``x`` formatted, or "n/a" for a value not known (None, NaN)."""
    return format(x, spec) if x is not None and math.isfinite(x) else "n/a"


COUNT_TERMS = frozenset({"points"})
"""Prediction terms that count something: printed as whole numbers (``points 38``, not ``points 38.000``)."""


def _term(name: str, x: float) -> str:
    return f"{x:.0f}" if name in COUNT_TERMS and math.isfinite(x) else _f(x)


def render(a: Any) -> list[str]:
    """The reasoning as plain lines, top to bottom in the order the verdict used it."""
    from rankinv.verdict import confidence_basis

    m, p, v = a.monitor, a.prediction, a.verdict
    slope = m.log_slope
    lines = [
        v.audit(a.run),
        f"  confidence {v.confidence:.0%}: {confidence_basis(v)}",
        f"  logs: {m.points} entropy points, last step {_f(m.last_step, 'd')}, restarts {m.restarts}",
        f"  entropy: baseline {_f(m.baseline)}"
        + (f" at step {m.baseline_step}" if m.baseline_step is not None else "") + f", now {_f(m.entropy_now)}, "
        f"drop {_f(m.drop_now, '.2f')} (by decision step: {_f(m.drop_at_decision, '.2f')})",
        "  log-entropy slope/step: " + (f"{slope.slope:+.4f} [{slope.lo:+.4f}, {slope.hi:+.4f}]" if slope else "n/a")
        + f", floor {_f(m.floor)} projected at step {_f(m.floor_step, '.0f')}",
        f"  zero-std fraction: {_f(m.zero_std_now, '.2f')} (triage predicted {_f(m.zero_std_expected, '.2f')}); "
        f"reward {_f(m.reward_start, '.3f')} → {_f(m.reward_now, '.3f')}"
        + (f" (gain {m.reward_gain.gain:+.3f} ± {m.reward_gain.se:.3f} s.e.)" if m.reward_gain else ""),
        f"  groups per logged step (G): {a.groups.describe(m.step_signal)}",
        f"  triage report: {a.report or 'none found (stage 1 not run for the starting checkpoint)'}",
        f"  predicted final pass@10: {p}",
        *(["    " + ", ".join(f"{k} {_term(k, val)}" for k, val in p.terms)] if p.terms else []),
        "  reasons:",
    ]
    lines += [f"    [{r.grade}] {r.render()}" for r in v.reasons] or ["    (none)"]
    if math.isfinite(a.outcome):
        lines.append(f"  measured final pass@10: {a.outcome:.3f}")
    lines += [f"  note: {note}" for note in a.notes]
    return lines
