"""Produce the real-log corpus in ``tests/data/reallogs/``: ``python -m tests.support.reallogs [OUT]``.

Each case is a real TRL run on the CPU (a tiny Qwen2, :mod:`tests.support.tinylm`) started as its own process
with stdout and stderr in one file (``stdout.out``, as Slurm writes ``slurm-%j.out``; ``PYTHONUNBUFFERED=1`` as
``python -u`` in an sbatch script). Kept per case: that file, the final checkpoint's ``trainer_state.json`` and the
callback's ``rankinv.jsonl`` (the oracles a test compares the stdout reading with), TensorBoard files and W&B
offline run files when transformers wrote them, the callback's manifest for a log without a progress bar, and
``case.json`` (the spec and the package versions). Weights are not kept.
About two minutes on two cores; tests read the committed output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.support.tinylm import REPO_ROOT, ToyTask, save_base, sft

DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "reallogs"
STEPS = {"save_strategy": "steps", "disable_tqdm": False}
CASES: dict[str, list[dict[str, Any]]] = {
    # GRPO, logging every 10 steps with the first step logged, eval every 15, a dataset row and a config dict
    "grpo-ls10-first-eval15": [{"trainer": "grpo", "stray_prints": True, "eval": True, "config": {
        **STEPS, "max_steps": 30, "logging_steps": 10, "logging_first_step": True, "save_steps": 30,
        "eval_strategy": "steps", "eval_steps": 15, "per_device_eval_batch_size": 8}}],
    "grpo-ls1": [{"trainer": "grpo", "config": {**STEPS, "max_steps": 6, "logging_steps": 1, "save_steps": 6}}],
    "grpo-ls2-notqdm": [{"trainer": "grpo", "config": {
        **STEPS, "max_steps": 8, "logging_steps": 2, "save_steps": 8, "disable_tqdm": True}}],
    # a run stopped at step 6 and resumed to step 12, appending to the same stdout file (a requeued Slurm job)
    "grpo-resumed": [
        {"trainer": "grpo", "config": {**STEPS, "max_steps": 6, "logging_steps": 2, "save_steps": 6}},
        {"trainer": "grpo", "resume": True, "config": {**STEPS, "max_steps": 12, "logging_steps": 2,
                                                         "save_steps": 6}},
    ],
    # SFT, logging every 2, eval every 3, TensorBoard written by transformers itself
    "sft-ls2-eval3-tb": [{"trainer": "sft", "stray_prints": True, "eval": True, "config": {
        **STEPS, "max_steps": 12, "logging_steps": 2, "save_steps": 12, "eval_strategy": "steps", "eval_steps": 3,
        "report_to": ["tensorboard"], "logging_dir": None}}],
    # two processes under `accelerate launch` on the CPU (gloo): only the main process prints the log dicts
    "grpo-accelerate-2proc": [{"trainer": "grpo", "processes": 2, "config": {
        **STEPS, "max_steps": 6, "logging_steps": 2, "save_steps": 6, "per_device_train_batch_size": 4}}],
    # W&B in offline mode (no network): transformers' own WandbCallback writes wandb/offline-run-*/run-*.wandb
    "grpo-wandb-offline": [{"trainer": "grpo", "wandb": True, "eval": True, "from_sft_epochs": 10, "config": {
        **STEPS, "max_steps": 8, "logging_steps": 2, "save_steps": 8, "eval_strategy": "steps", "eval_steps": 4,
        "per_device_eval_batch_size": 8, "report_to": ["wandb"]}}],
    # held out of reader development: a GRPO run from an SFT checkpoint whose policy collapses onto wrong answers
    # (the task's own reward at a high learning rate), for the daemon's end-to-end KILL test
    "heldout-grpo-collapse": [{"trainer": "grpo", "from_sft_epochs": 10, "config": {
        **STEPS, "max_steps": 40, "logging_steps": 2, "learning_rate": 5e-2, "save_steps": 40}}],
}  # fmt: skip
PACKAGES = ("trl", "transformers", "torch", "tqdm", "accelerate", "tensorboard", "wandb")


def run_job(spec: dict[str, Any], log: Path, module: str = "tests.support.reallog_job") -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    launcher = [sys.executable]
    if spec.get("wandb"):
        env.update({"WANDB_MODE": "offline", "WANDB_DIR": spec["out_dir"], "WANDB_PROJECT": "reallogs",
                    "WANDB_SILENT": "true", "WANDB_X_DISABLE_STATS": "true", "WANDB_X_DISABLE_MACHINE_INFO": "true"})
    if spec.get("processes", 1) > 1:
        # torchrun under accelerate (its --cpu flag alone starts one process); the Trainer's use_cpu picks gloo
        launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                    str(spec["processes"]), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        env["ACCELERATE_USE_CPU"] = "1"
    with log.open("ab") as out:
        code = subprocess.call(
            [*launcher, "-m", module, json.dumps(spec)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=spec["out_dir"],
        )  # fmt: skip
    if code != 0:
        raise RuntimeError(f"job failed ({code}): {log.read_text(errors='replace')[-3000:]}")


def spec_keeps_manifest(specs: list[dict[str, Any]]) -> bool:
    """Keep the callback's run manifest where a test reads the logging interval from it (a log without a bar)."""
    return bool(specs[0]["config"].get("disable_tqdm"))


def make_case(name: str, specs: list[dict[str, Any]], base: Path, work: Path, out: Path) -> None:
    run_dir = work / name
    run_dir.mkdir(parents=True)
    log = run_dir / "stdout.out"
    for spec in specs:
        model = base
        if spec.get("from_sft_epochs"):  # GRPO from an SFT checkpoint: an untrained model earns no reward
            task = ToyTask()
            model = sft(base, task.sft_rows(), work / f"{name}-sft", epochs=spec["from_sft_epochs"])
        config = {k: v for k, v in spec["config"].items() if v is not None}
        run_job({**spec, "config": config, "model_dir": str(model), "out_dir": str(run_dir)}, log)
    dest = out / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    shutil.copy(log, dest / "stdout.out")
    shutil.copy(run_dir / "rankinv.jsonl", dest / "rankinv.jsonl")
    if spec_keeps_manifest(specs):
        shutil.copy(run_dir / "rankinv-run.json", dest / "rankinv-run.json")
    last = max(run_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    shutil.copy(last / "trainer_state.json", dest / "trainer_state.json")
    for events in run_dir.rglob("events.out.tfevents.*"):
        (dest / "runs").mkdir(exist_ok=True)
        shutil.copy(events, dest / "runs" / "events.out.tfevents.real")
    for run_log in run_dir.glob("wandb/offline-run-*/run-*.wandb"):  # the run's data, not its files/ folder
        (dest / "wandb" / run_log.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(run_log, dest / "wandb" / run_log.parent.name / run_log.name)
    versions = {p: version(p) for p in PACKAGES if p != "wandb" or specs[0].get("wandb")}
    (dest / "case.json").write_text(json.dumps({"jobs": specs, "versions": versions}, indent=1) + "\n")


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_OUT
    wanted = argv[1:] or list(CASES)
    with tempfile.TemporaryDirectory() as tmp:
        base = save_base(Path(tmp) / "base")
        for name in wanted:
            make_case(name, CASES[name], base, Path(tmp) / "runs", out)
            print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
