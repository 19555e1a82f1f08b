"""A real (tiny, CPU) TRL GRPO run with RankinvCallback: trainer_state, stdout and the callback JSONL agree."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rankinv import __version__
from rankinv.cli import main
from rankinv.discovery import discover
from rankinv.errors import RankinvError
from rankinv.ingest import open_source, sources_for_run
from rankinv.integrations.trl import RankinvCallback, process_start_time
from rankinv.metrics import ENTROPY, REWARD_MEAN
from tests.support.tinylm import ToyTask, grpo_config, run_grpo, save_base, task_reward
from tests.test_ingest_readers import series

STEPS = 6
SLURM = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "grpo-tiny", "SLURM_NODELIST": "node01"}


def length_parity(completions: list[str], **_: Any) -> list[float]:
    """A second reward whose values vary, so reward_mean is not constant."""
    return [float(len(c.split()) % 2) for c in completions]


@dataclass(frozen=True)
class TrlRun:
    root: Path
    base: Path
    out: Path
    stdout: Path
    saved: tuple[Path, ...]


@pytest.fixture(scope="session")
def trl_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrlRun]:
    root = tmp_path_factory.mktemp("trl")
    base = save_base(root / "base")
    out = root / "runs" / "grpo-a"
    saved: list[Path] = []
    previous = {k: os.environ.get(k) for k in SLURM}
    os.environ.update(SLURM)
    try:
        callback = RankinvCallback(triage_on_save=saved.append)
        _, stdout = run_grpo(
            base, ToyTask().prompts(), [task_reward(), length_parity], out,
            callbacks=[callback], max_steps=STEPS, save_strategy="steps", save_steps=3,
        )
    finally:
        for key, value in previous.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    (out / "train.log").write_text(stdout)
    yield TrlRun(root, base, out, out / "train.log", tuple(saved))


def test_three_sources_agree_on_entropy_and_reward(trl_run: TrlRun) -> None:
    state, _ = open_source(trl_run.out, "a", "trainer_state").read_new(None)
    jsonl, _ = open_source(trl_run.out / "rankinv.jsonl", "a").read_new(None)
    stdout_reader = open_source(trl_run.stdout, "a")
    assert stdout_reader.fmt == "pydict"
    stdout, _ = stdout_reader.read_new(None)
    for name in (ENTROPY, REWARD_MEAN):
        truth = series(state, name)
        assert sorted(truth) == list(range(1, STEPS + 1)), name
        assert series(jsonl, name) == truth, name  # the same floats TRL logged
        printed = series(stdout, name)  # TRL prints 4 significant digits
        assert sorted(printed) == sorted(truth), name
        for step, value in truth.items():
            assert printed[step] == pytest.approx(value, rel=1e-3, abs=1e-6), (name, step)
    assert len(set(series(state, REWARD_MEAN).values())) > 1, "a constant reward would make agreement trivial"


def test_manifest(trl_run: TrlRun) -> None:
    manifest = json.loads((trl_run.out / "rankinv-run.json").read_text())
    assert manifest["kind"] == "GRPO"
    assert (manifest["group_size"], manifest["temperature"], manifest["max_completion_length"]) == (4, 1.0, 4)
    assert manifest["reward_functions"] == ["valid_answer", "length_parity"]
    assert manifest["model_path"] == str(trl_run.base)
    assert manifest["slurm_job_id"] == "4242"
    assert {k: manifest["slurm"][k] for k in SLURM} == SLURM
    assert (manifest["host"], manifest["pid"]) == (socket.gethostname(), os.getpid())
    assert manifest["process_start_time"] == process_start_time()
    assert time.time() - 86400 < manifest["process_start_time"] < time.time()
    assert manifest["rankinv_version"] == __version__
    assert manifest["logging_steps"] == 1


def test_save_hook_gets_each_checkpoint_after_it_is_durable(trl_run: TrlRun) -> None:
    assert trl_run.saved == (trl_run.out / "checkpoint-3", trl_run.out / "checkpoint-6")
    assert all((p / "trainer_state.json").is_file() for p in trl_run.saved)


def test_discovery_sees_the_real_run(trl_run: TrlRun) -> None:
    (run,) = discover(trl_run.root / "runs", settle_seconds=0)
    assert (run.name, run.kind, run.last_step) == ("grpo-a", "GRPO", STEPS)
    assert [(c.step, c.complete) for c in run.checkpoints] == [(3, True), (6, True)]
    assert run.parent == str(trl_run.base.resolve())
    formats = {s.path.name: s.fmt for s in sources_for_run(trl_run.out)}
    assert formats == {"grpo-a": "trainer_state", "rankinv.jsonl": "jsonl", "train.log": "pydict"}


def test_metrics_command_on_the_run(trl_run: TrlRun, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", str(trl_run.out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    sources = {r["source"].split(" (")[1] for r in rows if r["name"] == "entropy"}
    assert sources == {"trainer_state)", "jsonl)", "pydict)"}
    assert main(["metrics", str(trl_run.out / "rankinv.jsonl"), "--name", "entropy"]) == 0
    table = capsys.readouterr().out
    assert "reward_mean/valid_answer" in table and "entropy" in table


def test_rank_nonzero_writes_nothing(tmp_path: Path) -> None:
    from transformers import TrainerControl, TrainerState

    callback = RankinvCallback(output_dir=tmp_path / "out")
    args = grpo_config(tmp_path / "out")
    state = TrainerState(is_world_process_zero=False, is_local_process_zero=False)
    control = TrainerControl()
    callback.on_train_begin(args, state, control)
    callback.on_log(args, state, control, logs={"entropy": 1.0})
    callback.on_save(args, state, control)
    callback.on_train_end(args, state, control)
    assert not (tmp_path / "out").exists()


def test_triage_hook_must_be_callable() -> None:
    with pytest.raises(RankinvError, match="triage_on_save"):
        RankinvCallback(triage_on_save=True)  # type: ignore[arg-type]


def test_importing_the_callback_module_stays_light() -> None:
    code = (
        "import sys, rankinv.integrations.trl\n"
        "assert 'transformers' not in sys.modules and 'trl' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from transformers import TrainerCallback

    assert issubclass(RankinvCallback, TrainerCallback)
