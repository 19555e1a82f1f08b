"""Set up a demo: a fresh root and state directory, a dry-run daemon, and the replay of the bundled runs."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rankinv.daemon import control

from rankinv.boundary.child import CHILD_CWD
from rankinv.errors import RankinvError

BUNDLED = Path(__file__).resolve().parent / "runs"  # package data: the demo works from a plain install

CONFIG = """\
# rankinv demo. The bundled GRPO runs are 40 steps long, so the stage-2 window (the paper's steps 10→150 of
# a 400-step run) is scaled to them. Every threshold keeps its default. Never armed: the demo only records
# what it would stop.
[triage]
samples = 8
group_size = 8
max_new_tokens = 4
prompts = "{task}/prompts.jsonl"
reward = "rankinv.daemon.demo.reward:reward"
backend = "transformers"

[monitor]
baseline_step = 3
decision_step = 15

[verdict]
warmup_steps = 6
hold_steps = 6

[daemon]
settle_seconds = 1.0
evaluate_seconds = 1.0
debounce_seconds = 0.2

triage_executor = "{executor}"

[actions]
armed = false
"""


def precomputed_triage() -> bool:
    """Without torch (a plain ``pip install rankinv``) the checkpoints cannot be sampled here: the replay writes
    the triage reports this very demo produced when the runs were bundled (``runs/triage-reports``) next to each
    checkpoint, as a training job's callback would, and the daemon reads them."""
    return importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None


@dataclass
class Session:
    workdir: Path
    root: Path
    state: Path
    replay: subprocess.Popen[bytes]
    precomputed: bool = False

    @property
    def done_marker(self) -> Path:
        return self.workdir / "replay-finished"

    def replay_finished(self) -> bool:
        return self.done_marker.exists() or self.replay.poll() is not None


def bundled_runs(override: str | Path | None = None) -> Path:
    src = Path(override).expanduser().resolve() if override else BUNDLED
    if not (src / "sft-digits").is_dir():
        raise RankinvError(
            f"{src}: the demo's bundled runs are not there (they ship inside the package, rankinv/daemon/demo/runs/; "
            "a broken install?), or pass --runs DIR"
        )
    return src


def start(src: Path, workdir: Path, seconds_per_run: float) -> Session:
    """Write the demo root's config, start a dry-run daemon on it, then start the replay."""
    root, state, task = workdir / "runs", workdir / "state", workdir / "task"
    for d in (root, state, task):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "prompts.jsonl", task / "prompts.jsonl")
    precomputed = precomputed_triage()
    config = CONFIG.format(task=task, executor="callback" if precomputed else "auto")
    (root / "rankinv.toml").write_text(config, encoding="utf-8")
    control.start_detached(root, state_base=state)
    replay = subprocess.Popen(
        [sys.executable, "-m", "rankinv.daemon.demo.replay", str(src), str(root), str(seconds_per_run),
         str(workdir / "replay-finished"), *(["--reports"] if precomputed else [])],
        stdin=subprocess.PIPE,
        cwd=CHILD_CWD,
    )
    return Session(workdir, root, state, replay, precomputed)


def finish(session: Session) -> None:
    """End the replay (its stand-in jobs exit) and stop the demo's daemon."""
    if session.replay.stdin is not None:
        session.replay.stdin.close()
    try:
        session.replay.wait(timeout=10)
    except subprocess.TimeoutExpired:
        session.replay.kill()
        session.replay.wait()
    control.stop(session.root, state_base=session.state)
