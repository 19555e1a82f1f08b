"""`rankinv demo` from an installed wheel, not from the checkout: the bundled runs and the task's reward ship as
package data. The wheel is built from this tree, installed into a fresh target directory, and run from a folder
outside the checkout, so nothing can be found through the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_from_an_installed_wheel(tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
                   check=True, timeout=300, capture_output=True)  # fmt: skip
    (wheel,) = wheels.glob("rankinv-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=300,
                   capture_output=True)  # fmt: skip
    # Only the wheel's rankinv: the target first on the path, run from outside the checkout. Its dependencies
    # (numpy, textual, torch for triage …) come from this environment, as `pip install rankinv[triage]` brings.
    env = {**os.environ, "PYTHONPATH": str(target), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    where = subprocess.run([sys.executable, "-c", "import rankinv; print(rankinv.__file__)"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert where.stdout.strip() == str(target / "rankinv" / "__init__.py")
    run = subprocess.run(
        [sys.executable, "-m", "rankinv", "demo", "--headless", "--seconds-per-run", "8", "--timeout", "150",
         "--keep", str(tmp_path / "demo")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL, check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "triaged" in run.stdout and "DRY-RUN would KILL" in run.stdout
    config = (tmp_path / "demo" / "runs" / "rankinv.toml").read_text()
    assert 'reward = "rankinv.daemon.demo.reward:reward"' in config


def test_shipped_reward_agrees_with_the_ladder_task() -> None:
    """The packaged reward reads the prompt set's ``valid`` column; the ladder's own rule is the oracle."""
    import json

    from rankinv.daemon.demo import reward
    from rankinv.daemon.demo.session import BUNDLED

    from examples.ladder import task

    rows = [json.loads(line) for line in (BUNDLED / "prompts.jsonl").read_text().splitlines()]
    completions = [" four", "nine is it", "", " 7", "zero"]
    prompts = [r["prompt"] for r in rows for _ in completions]
    tried = [c for _ in rows for c in completions]
    valid = [r["valid"] for r in rows for _ in completions]
    assert reward.reward(prompts, tried, valid) == task.reward(prompts, tried)
    assert 0 < sum(task.reward(prompts, tried)) < len(tried)  # both outcomes are exercised
