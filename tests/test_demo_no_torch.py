"""`rankinv demo` from a plain `pip install rankinv`: no triage extra, no torch. The wheel is built from this tree
and installed with its base dependencies (from the package index) into a fresh virtual environment that cannot
see this one's packages; the demo runs headless from a folder outside the checkout, and its checkpoints are
judged from the triage reports shipped with it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_without_torch(tmp_path: Path) -> None:
    wheels, env_dir = tmp_path / "wheels", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(REPO)], check=True, timeout=300, capture_output=True)  # fmt: skip
    (wheel,) = wheels.glob("rankinv-*.whl")
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    python = str(env_dir / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                             env=env, capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    probe = "import importlib.util as u, rankinv; print(u.find_spec('torch') is None, rankinv.__file__)"
    out = subprocess.run([python, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
                         timeout=60).stdout.split()  # fmt: skip
    assert out[0] == "True" and out[1].startswith(str(env_dir)), out
    run = subprocess.run(
        [python, "-m", "rankinv", "demo", "--headless", "--seconds-per-run", "8", "--timeout", "150",
         "--keep", str(tmp_path / "demo")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL, check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "torch is not installed" in run.stdout
    assert run.stdout.count("triaged ") == 2 and "DRY-RUN would KILL" in run.stdout
    assert "stage-1 entropy 0.13 < 0.18" in run.stdout  # the late checkpoint's shipped report flags it
    report = tmp_path / "demo" / "runs" / "sft-digits" / "checkpoint-300" / "rankinv-triage.json"
    assert str(tmp_path / "demo" / "runs" / "sft-digits" / "checkpoint-300") in report.read_text()
