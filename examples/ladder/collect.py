"""``python -m examples.ladder.collect --seeds 0 1 2 3 4 [--task hump|digits|collapse] [--rl-steps N]
[--results DIR]``: a full ladder, one seed at a time.

Each seed runs ``python -m examples.ladder --task TASK --seed N`` in a temporary directory, replays its stage 2
under both policies (:mod:`examples.ladder.stage2`) and stores one JSON per seed in ``--results`` (default
``examples/ladder/results``): the ladder's table, the replayed rows and the commit the code was at; beside it
``runs/NAME.tar.gz`` keeps what a replay needs (each rung's RL log and manifest, its starting checkpoint's triage
report, the ladder's config), so stage 2 can be replayed again from the repository alone. The README's
hump tables are recomputed from these files by :mod:`examples.ladder.evidence` (and by the tests). Prints only
that each seed finished, so held-out seeds can be run without their numbers being seen.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tarfile
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
    archive(out, results / "runs" / f"{name}.tar.gz")
    return target


def archive(out: Path, target: Path) -> None:
    """Keep the small files a stage-2 replay reads, laid out as a ladder ``--out`` directory: ``ladder.json``,
    ``rl/rankinv.toml`` and per rung its RL log, its manifest and (as ``rankinv-triage.json`` in the run directory,
    where :func:`rankinv.assess.start_report` looks first) the triage report of the checkpoint it started from."""
    from rankinv.assess import start_report

    target.parent.mkdir(parents=True, exist_ok=True)
    table = json.loads((out / "ladder.json").read_text(encoding="utf-8"))
    with tarfile.open(target, "w:gz") as tar:
        tar.add(out / "ladder.json", arcname="ladder/ladder.json")
        tar.add(out / "rl" / "rankinv.toml", arcname="ladder/rl/rankinv.toml")
        for row in table["rows"]:
            run_dir = Path(row["run_dir"])
            where = f"ladder/rl/{run_dir.name}"
            for name in ("rankinv.jsonl", "rankinv-run.json"):
                tar.add(run_dir / name, arcname=f"{where}/{name}")
            report = start_report(run_dir)
            if report is None:
                raise SystemExit(f"{run_dir}: no triage report of its starting checkpoint to archive")
            tar.add(report, arcname=f"{where}/rankinv-triage.json")


def unpack(stored: Path, into: Path) -> Path:
    """Extract an archive written by :func:`archive`; returns its ladder directory."""
    with tarfile.open(stored, "r:gz") as tar:
        tar.extractall(into, filter="data")
    return into / "ladder"


def replay(stored: Path) -> None:
    """Replay a stored seed's stage 2 again with the code as it is now, from its archive (``runs/NAME.tar.gz``
    beside it) or else its run directories, which must still exist; the measurements are kept,
    ``stage2_commit`` records the code that replayed."""
    from examples.ladder.stage2 import ladder_rows

    data = json.loads(stored.read_text(encoding="utf-8"))
    runs = stored.parent / "runs" / f"{stored.stem}.tar.gz"
    with tempfile.TemporaryDirectory(prefix="rankinv-replay-") as tmp:
        out = unpack(runs, Path(tmp)) if runs.is_file() else Path(data["ladder"]["rows"][0]["run_dir"]).parents[1]
        data["stage2"] = [dataclasses.asdict(r) for r in ladder_rows(out)]
    data["stage2_commit"] = commit()
    stored.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.ladder.collect", description=__doc__)
    p.add_argument("--seeds", type=int, nargs="*", default=[])
    p.add_argument("--results", default=str(ROOT / "examples" / "ladder" / "results"))
    p.add_argument("--replay", nargs="*", default=[], help="stored seed files whose stage 2 to replay again")
    p.add_argument("--task", choices=("digits", "hump", "collapse"), default="hump")
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
