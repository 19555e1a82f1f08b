"""verl and OpenRLHF logs written by their own logging code: ``python -m tests.support.framework_logs SITES_DIR [OUT]``.

verl and OpenRLHF train only on GPUs under Ray, so their trainers cannot run here; the code that formats their
logs can. SITES_DIR holds one ``pip install --no-deps --target SITES_DIR/<name>-<version> <name>==<version>``
folder per version below (verl 0.9.1 also needs ``orjson`` there). The logging modules are loaded from them by file
path, under stub parent packages, so the packages' ``__init__`` (which imports Ray) never runs; each is fed a
seeded series of step metrics under that framework's metric names, in a process of its own whose stdout and
stderr go to one file, as Slurm writes them. Kept per case in ``tests/data/frameworklogs/<case>/``: the log(s) and
``expected.json``, the values handed to the framework's logger at each step (the tests' oracle).

What is the framework's own code: verl's ``Tracking`` (console, ``file`` and ``tensorboard`` backends, which format
and write every byte; TensorBoard through torch's ``SummaryWriter``, as verl's), OpenRLHF's ``init_logger`` (its log
format) and ``WandbLogger`` (a W&B offline run under ``wandb/``; needs the ``wandb`` package) and tqdm's
``set_postfix`` (how OpenRLHF ≤ 0.8 shows a step). What is re-typed from their trainers: the loop around them (one
f-string for OpenRLHF ≥ 0.9's step line, the episode bar's ``set_postfix`` / ``update`` order for ≤ 0.8), copied
from the versions named.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

from tests.support.tinylm import REPO_ROOT

DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "frameworklogs"
CASES = ("verl-0.9.1", "verl-0.4.0", "openrlhf-0.11.2", "openrlhf-0.5.9")  # each read from SITES_DIR/<case>
STEPS = 20
# W&B without network or an account: OpenRLHF's logger logs in only when wandb has no API key, so it gets a dummy
WANDB_OFFLINE = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_API_KEY": "0" * 40,
                 "WANDB_X_DISABLE_STATS": "true", "WANDB_X_DISABLE_MACHINE_INFO": "true"}  # fmt: skip
NAN_STEP = 7  # one value is NaN, as a diverging run logs


def load(site: Path, name: str) -> Any:
    """Module ``name`` from ``site`` by file path; its parent packages are stubs (their ``__init__`` never runs)."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        package = ".".join(parts[:i])
        if package not in sys.modules:
            stub = types.ModuleType(package)
            stub.__path__ = [str(site.joinpath(*parts[:i]))]
            sys.modules[package] = stub
    spec = importlib.util.spec_from_file_location(name, site.joinpath(*parts).with_suffix(".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def verl_metrics(rng: random.Random, step: int) -> dict[str, Any]:
    import numpy as np

    entropy = 1.2 * math.exp(-step / 12) + rng.uniform(0, 0.02)
    data: dict[str, Any] = {
        "actor/entropy": np.float64(entropy), "actor/kl_loss": np.float64(rng.uniform(0, 4e-4)),
        "actor/pg_loss": np.float64(rng.uniform(-0.05, 0.05)), "actor/pg_clipfrac": np.float64(rng.uniform(0, 0.01)),
        "actor/grad_norm": np.float64(math.nan if step == NAN_STEP else rng.uniform(0.1, 2)),
        "actor/lr": 1e-6, "critic/score/mean": np.float64(rng.uniform(0.2, 0.8)),
        "critic/score/std": np.float64(rng.uniform(0.1, 0.5)),
        "response_length/mean": np.float64(rng.uniform(200, 900)),
        "response_length/clip_ratio": np.float64(rng.uniform(0, 0.1)), "training/global_step": step,
        "timing_s/step": rng.uniform(30, 60),
    }  # fmt: skip
    if step % 10 == 0:
        data["val-core/math/acc/best@8/mean"] = np.float64(rng.uniform(0.3, 0.9))
        data["val-core/math/score/best@8/mean"] = np.float64(rng.uniform(-1, 1))
        data["val-core/math/acc/mean@8"] = np.float64(rng.uniform(0.2, 0.6))
    return data


def run_verl(site: Path, out: Path) -> list[dict[str, Any]]:
    os.environ["VERL_FILE_LOGGER_PATH"] = "metrics.jsonl"  # in the working directory, as a job would set it
    aggregate = load(site, "verl.utils.logger.aggregate_logger")
    sys.modules["verl.utils.logger"].LocalLogger = aggregate.LocalLogger
    tracking = load(site, "verl.utils.tracking")
    # 0.9.1 also writes its file logger's JSONL and TensorBoard (tensorboard_log/<project>/<experiment>)
    backends = ["console", "file", "tensorboard"] if hasattr(tracking, "FileLogger") else ["console"]
    logger = tracking.Tracking(project_name="reallogs", experiment_name="grpo", default_backend=backends)
    rng, expected = random.Random(0), []
    for step in range(1, STEPS + 1):
        data = verl_metrics(rng, step)
        logger.log(data=data, step=step)
        expected.append({"step": step, "values": {k: float(v) for k, v in data.items()}})
    if hasattr(logger, "finish"):  # verl 0.4 has none (its console logger needs no closing)
        logger.finish()
    return expected


def openrlhf_status(rng: random.Random, step: int, *, old: bool) -> dict[str, float]:
    status = {
        "policy_loss": rng.uniform(-0.05, 0.05), "actor_lr": 1e-6, "actor_grad_norm": rng.uniform(0.1, 2),
        "kl": math.nan if step == NAN_STEP else rng.uniform(0, 4e-4), "reward": rng.uniform(0, 1),
        "return": rng.uniform(0, 1), "response_length": rng.uniform(200, 900), "total_length": rng.uniform(300, 1000),
    }  # fmt: skip
    if not old:
        status |= {
            "group_reward_std": rng.uniform(0, 0.5), "response_clip_ratio": rng.uniform(0, 0.1),
            "ppo_clip_ratio": rng.uniform(0, 0.01), "ppo_kl": rng.uniform(0, 1e-3),
            "timing/make_experience": rng.uniform(5, 9), "rollout/reward_mean": rng.uniform(0, 1),
        }  # fmt: skip
    return status


def run_openrlhf(site: Path, _out: Path) -> list[dict[str, Any]]:
    """OpenRLHF 0.11's ``PPOTrainer.fit``: one log line per global step, an evaluation line every 5 steps."""
    from tqdm import tqdm

    logging_utils = load(site, "openrlhf.utils.logging_utils")
    logger = logging_utils.init_logger("openrlhf.trainer.ppo_trainer")
    wandb_logger = logging_utils.WandbLogger(_wandb_args())  # offline: WANDB_MODE=offline, no network
    rng, expected = random.Random(1), []
    pbar = tqdm(range(STEPS * 4), desc="Episode [1/1]", initial=0)
    for global_step in range(1, STEPS + 1):
        log_status = openrlhf_status(rng, global_step, old=False)
        logger.info(f"✨ Global step {global_step}: {log_status}")
        wandb_logger.log_train(global_step, log_status)
        expected.append({"step": global_step, "values": log_status})
        if global_step % 5 == 0:
            logs = {"eval_math_pass8": rng.uniform(0.3, 0.9), "eval_math_pass1": rng.uniform(0.1, 0.5),
                    "eval_response_length_mean": rng.uniform(200, 900)}  # fmt: skip
            wandb_logger.log_eval(global_step, logs)
            logger.info(f"✨ Evaluation completed in 0:00:05, global_step {global_step}, eval_metrics: {logs}")
            expected.append({"step": global_step, "values": logs})
        pbar.update(4)
    pbar.close()
    wandb_logger.close()
    return expected


def _wandb_args() -> Any:
    """The fields of OpenRLHF's parsed arguments its ``WandbLogger`` reads."""
    wandb = types.SimpleNamespace(key="offline", org=None, project="reallogs", group=None, run_name="grpo")
    return types.SimpleNamespace(logger=types.SimpleNamespace(wandb=wandb))


def run_openrlhf_old(_site: Path, _out: Path) -> list[dict[str, Any]]:
    """OpenRLHF 0.5.9's ``PPOTrainer.fit``: two episodes of ten steps; the status goes on the episode bar."""
    from tqdm import tqdm

    rng, expected, steps, per_episode = random.Random(2), [], 1, STEPS // 2
    for episode in range(2):
        pbar = tqdm(range(per_episode), desc=f"Episode [{episode + 1}/2]")
        for _ in range(per_episode):
            status = openrlhf_status(rng, steps, old=True)
            inner = tqdm(range(2), desc="Train epoch [1/1]")
            for _ in inner:  # ppo_train: the per-micro-batch short status, not a step
                inner.set_postfix({"pg": status["policy_loss"], "rm": status["reward"], "kl": status["kl"]})
            pbar.set_postfix(status)
            expected.append({"step": steps, "values": status})
            pbar.update()
            steps += 1
    return expected


RUNNERS = {"verl": run_verl, "openrlhf": run_openrlhf}


def run_case(case: str, site: Path, out: Path) -> None:
    name, version = case.split("-", 1)
    runner = run_openrlhf_old if case == "openrlhf-0.5.9" else RUNNERS[name]
    expected = runner(site, out)
    versions = {name: version, **{p: sys.modules[p].__version__ for p in ("tqdm", "wandb") if p in sys.modules}}
    payload = {"case": case, "versions": versions, "records": expected}
    (out / "expected.json").write_text(json.dumps(payload, indent=1, allow_nan=True) + "\n")


def _keep_only_run_files(folder: Path) -> None:
    """Of a W&B folder keep the run's data (``run-*.wandb``); its debug logs and package list are not needed."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), reverse=True):  # children before their folders
        if path.is_symlink() or (path.is_file() and not path.name.endswith(".wandb")):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--case"]:
        run_case(argv[1], Path(argv[2]), Path(argv[3]))
        return 0
    sites, out = Path(argv[0]).resolve(), (Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT).resolve()
    for case in CASES:
        dest = out / case
        dest.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **WANDB_OFFLINE, "WANDB_DIR": str(dest),
               "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(sites / case)])}  # fmt: skip
        command = [sys.executable, "-m", "tests.support.framework_logs", "--case", case, str(sites / case), str(dest)]
        with (dest / "stdout.out").open("wb") as log:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=True, cwd=dest)
        _keep_only_run_files(dest / "wandb")
        print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
