"""The cluster recipes in examples/: scripts parse, use only flags the CLI has, and grpo.sbatch's USR1 trap works
under a real (one-node, local) Slurm: the signal reaches the trainer, which saves, and the job exits 0."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.slurm_cluster import SlurmCluster, slurm_cluster, wait_for

__all__ = ["slurm_cluster"]  # the session fixture, imported so pytest finds it here

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "examples" / "slurm"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")

STAND_IN = """\
import os, signal, sys, time
# Stand-in for grpo_train.py (no GPU, no model here): same command line, and on SIGUSR1 it "saves" (takes a
# moment, as a checkpoint save does), then exits 0.
out = sys.argv[sys.argv.index("--output-dir") + 1]
os.makedirs(out, exist_ok=True)
def save_and_exit(signum, frame):
    time.sleep(1.0)
    open(os.path.join(out, "saved"), "w").write(" ".join(sys.argv[1:]))
    sys.exit(0)
signal.signal(signal.SIGUSR1, save_and_exit)
open(os.path.join(out, "running"), "w").write(str(os.getpid()))
while True:
    time.sleep(0.1)
"""


def _help(*command: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "rankinv", *command, "--help"], capture_output=True, text=True,
                          check=True, cwd=ROOT, timeout=120)
    return proc.stdout


@pytest.mark.parametrize("script", ["grpo.sbatch", "triage.sbatch"])
def test_sbatch_scripts_parse(script: str) -> None:
    proc = subprocess.run(["bash", "-n", str(SLURM / script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "#SBATCH --signal=B:USR1@120" in (SLURM / "grpo.sbatch").read_text()


@pytest.mark.parametrize("path", ["examples/trl_callback.py", "examples/slurm/grpo_train.py"])
def test_python_recipes_byte_compile(path: str, tmp_path: Path) -> None:
    py_compile.compile(str(ROOT / path), cfile=str(tmp_path / "out.pyc"), doraise=True)


def test_recipes_use_only_flags_rankinv_has() -> None:
    triage = set(FLAG.findall((SLURM / "triage.sbatch").read_text().split("set -euo pipefail", 1)[1]))
    assert triage and triage <= set(FLAG.findall(_help("triage"))), triage
    exec_start = next(line for line in (SLURM / "rankinv-daemon.service").read_text().splitlines()
                      if line.startswith("ExecStart="))
    assert " daemon " in exec_start and set(FLAG.findall(exec_start)) <= set(FLAG.findall(_help("daemon")))


def test_the_readme_gives_a_tmux_one_liner() -> None:
    text = (SLURM / "README.md").read_text()
    assert re.search(r"tmux new(-session)? -d -s \S+ .*rankinv daemon \S+ --foreground", text)


def test_save_and_stop_callback_turns_usr1_into_save_then_stop() -> None:
    from transformers import TrainerControl

    spec = importlib.util.spec_from_file_location("grpo_train", SLURM / "grpo_train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        callback = module.SaveAndStopOnSignal()
        control = callback.on_step_end(None, None, TrainerControl())
        assert not control.should_save and not control.should_training_stop
        os.kill(os.getpid(), signal.SIGUSR1)
        wait_for(lambda: callback.requested, "the USR1 handler")
        control = callback.on_step_end(None, None, TrainerControl())
        assert control.should_save and control.should_training_stop
    finally:
        signal.signal(signal.SIGUSR1, previous)


@pytest.mark.slurm
def test_grpo_sbatch_forwards_usr1_and_exits_after_the_save(slurm_cluster: SlurmCluster) -> None:
    jobs = slurm_cluster.dir / "recipes"
    jobs.mkdir(exist_ok=True)
    (jobs / "stand_in.py").write_text(STAND_IN)
    env = f"ALL,RUNS_ROOT={jobs},RUN=grpo-usr1,MODEL=/ckpt/sft-1,PROMPTS=p.jsonl,REWARD=r:f," \
          f"TRAIN={sys.executable} {jobs / 'stand_in.py'}"
    # The recipe asks for a GPU; this one-node test cluster has none, so the command line clears the request.
    job = slurm_cluster.sbatch(f"--export={env}", "--gres=none", "-D", str(jobs), "-o", str(jobs / "job.out"),
                               str(SLURM / "grpo.sbatch"))
    run = jobs / "grpo-usr1"
    wait_for((run / "running").exists, "the trainer to start", timeout=120)
    slurm_cluster.run("scancel", "--signal=USR1", "--batch", job)
    wait_for(lambda: slurm_cluster.state(job) == "", "the job to leave the queue", timeout=120)
    out = (jobs / "job.out").read_text()
    assert "SIGUSR1: asking the trainer" in out and "trainer exited with status 0" in out, out
    assert (run / "saved").read_text().split()[:2] == ["--model", "/ckpt/sft-1"]
