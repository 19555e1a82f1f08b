"""``python -m examples.ladder.collect --seeds 0 1 2 3 4 [--task hump|digits] [--rl-steps N] [--results DIR]``: a
full ladder, one seed at a time.

Each seed runs ``python -m examples.ladder --task TASK --seed N`` in a temporary directory, replays its stage 2
under both policies (:mod:`examples.ladder.stage2`) and stores one JSON per seed in ``--results`` (default
``examples/ladder/results``): the ladder's table, the replayed rows and the commit the code was at. The README's
hump tables are recomputed from these files by :mod:`examples.ladder.evidence` (and by the tests). Prints only
that each seed finished, so held-out seeds can be run without their numbers being seen.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def commit() -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return proc.stdout.strip() + ("-dirty" if dirty else "")


def run_seed(seed: int, results: Path, task: str = "hump", rl_steps: int | None = None) -> Path:
    from examples.ladder.__main__ import main as ladder_main
    from examples.ladder.stage2 import ladder_rows

    name = f"{task}-seed{seed}" + (f"-rl{rl_steps}" if rl_steps is not None else "")
    out = Path(tempfile.mkdtemp(prefix=f"rankinv-{name}-")) / "ladder"
    steps = ["--rl-steps", str(rl_steps)] if rl_steps is not None else []
    with open(out.parent / "log.txt", "w", encoding="utf-8") as log:
        saved = sys.stdout
        sys.stdout = log
        try:
            code = ladder_main(["--task", task, "--seed", str(seed), "--out", str(out), *steps])
        finally:
            sys.stdout = saved
    if code != 0:
        raise SystemExit(f"seed {seed}: the ladder failed (see {out.parent / 'log.txt'})")
    table = json.loads((out / "ladder.json").read_text(encoding="utf-8"))
    stage2 = [dataclasses.asdict(r) for r in ladder_rows(out)]
    target = results / f"{name}.json"
    target.write_text(json.dumps({"commit": commit(), "ladder": table, "stage2": stage2}, indent=1) + "\n",
                      encoding="utf-8")
    return target


def replay(stored: Path) -> None:
    """Replay a stored seed's stage 2 again with the code as it is now (its run directories must still exist);
    the measurements are kept, ``stage2_commit`` records the code that replayed."""
    from examples.ladder.stage2 import ladder_rows

    data = json.loads(stored.read_text(encoding="utf-8"))
    out = Path(data["ladder"]["rows"][0]["run_dir"]).parents[1]
    data["stage2"] = [dataclasses.asdict(r) for r in ladder_rows(out)]
    data["stage2_commit"] = commit()
    stored.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.ladder.collect", description=__doc__)
    p.add_argument("--seeds", type=int, nargs="*", default=[])
    p.add_argument("--results", default=str(ROOT / "examples" / "ladder" / "results"))
    p.add_argument("--replay", nargs="*", default=[], help="stored seed files whose stage 2 to replay again")
    p.add_argument("--task", choices=("digits", "hump"), default="hump")
    p.add_argument("--rl-steps", type=int, help="GRPO steps per rung (default: the task's preset)")
    args = p.parse_args(argv)
    for stored in args.replay:
        replay(Path(stored))
        print(f"replayed {stored}", flush=True)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        clock = time.monotonic()
        target = run_seed(seed, results, args.task, args.rl_steps)
        print(f"seed {seed}: stored {target} ({time.monotonic() - clock:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
