"""GRPO-format logs written by hand, for daemon tests that need exact control of what is on disk and when.

The records are the rankinv callback's JSONL format (``{"step", "time", "logs": {...}}``) with TRL's metric
names; entropy decays while the reward stalls with most groups failing (a collapse), so the brain reaches a
KILL verdict after the stage-2 window. Where a test needs real
training output it uses :mod:`tests.support.tinylm` instead.
"""

from __future__ import annotations

import json
import math
import os
import struct
import time
from pathlib import Path

from rankinv.daemon.pipeline.ingest import sources_for_run


def record(step: int) -> str:
    entropy = 1.2 * math.exp(-step / 60)
    logs = {"entropy": round(entropy, 6), "reward": 0.2, "frac_reward_zero_std": 0.95}  # stalled, most groups fail
    return json.dumps({"step": step, "time": 1.7e9 + step, "logs": logs}) + "\n"


def make_run(path: Path, kind: str = "GRPO") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "rankinv-run.json").write_text(json.dumps({"kind": kind, "group_size": 4}))
    (path / "rankinv.jsonl").touch()
    return path


def settled_checkpoint(folder: Path) -> Path:
    """A complete checkpoint written an hour ago (settled): config and a whole (empty) safetensors file."""
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    for p in folder.iterdir():
        os.utime(p, (time.time() - 3600,) * 2)
    return folder


def append(path: Path, text: str) -> None:
    with (path / "rankinv.jsonl").open("a") as f:
        f.write(text)
        f.flush()


def expected_points(run_dir: Path, run: str) -> dict[tuple[str, int], float]:
    """What the run's log holds, read whole through the ingest layer from the source the daemon reads."""
    out: dict[tuple[str, int], float] = {}
    for source in sources_for_run(run_dir):
        for p in source.open(run).read_new()[0]:
            out[(p.name, p.step)] = p.value
    return out
