"""A training process for the evidence tests: the TRL callback's own code writes the manifest (token, start
time) and the log, and holds the log open, as under a real Trainer; GRPO-format records with collapsing
entropy so the daemon reaches KILL. ``python -m tests.evil.evidence.trainer RUN_DIR SIGNALS_LOG``."""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from rankinv.integrations.trl import RankinvCallbackCore


def note(path: str, text: str) -> None:
    with Path(path).open("a") as f:
        f.write(text + "\n")


def main(run_dir: str, signals: str) -> None:
    signal.signal(signal.SIGUSR1, lambda *_: note(signals, "usr1"))
    callback = RankinvCallbackCore(output_dir=run_dir, kind="GRPO")
    args = SimpleNamespace(output_dir=run_dir, num_generations=4)
    state = SimpleNamespace(is_world_process_zero=True, global_step=0, epoch=0.0)
    callback.on_train_begin(args, state, None)
    for step in range(1, 221):
        state.global_step = step
        logs = {"entropy": 1.2 * math.exp(-step / 60), "reward": 0.2, "frac_reward_zero_std": 0.95}
        callback.on_log(args, state, None, logs=logs)
    note(signals, "logged")
    while True:
        time.sleep(0.05)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
