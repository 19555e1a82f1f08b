"""Real TRL GRPO jobs on the CPU: one driven to entropy collapse, one healthy. The collapsing run gets KILL from
`rankinv explain` on its bare run directory; the healthy one never gets KILL at any step of its history.

Both are real ``GRPOTrainer`` runs (in-process, to fit the test budget) from the same tiny SFT checkpoint; they log
every step through rankinv's TRL callback into their output directories, which `rankinv explain` then reads as
bare run directories. The stage-2 window is scaled to their length in the runs root's ``rankinv.toml`` (the
paper's 10→150 is for 400-step runs).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest

from rankinv.assess import best_series, read_points
from rankinv.cli import main
from rankinv.config import load_config
from rankinv.monitor import Curve, RunSeries, analyse
from rankinv.verdict import Decision, decide
from tests.support import tinylm
from tests.support.grpo_job import _collapse_reward as collapse_reward
from tests.support.tinylm import ToyTask, run_grpo, save_base, sft, task_reward, write_prompts_jsonl

pytestmark = pytest.mark.slow

CONFIG = """
[monitor]
baseline_step = 2
decision_step = 12
[verdict]
warmup_steps = 5
hold_steps = 4
[triage]
prompts = "{prompts}"
reward = "{reward}"
group_size = 4
samples = 10
max_new_tokens = 4
backend = "transformers"
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rankinv.integrations.trl import RankinvCallback

    work = tmp_path_factory.mktemp("brain")
    task = ToyTask()
    model = sft(save_base(work / "base", task), task.sft_rows(), work / "sft", epochs=10)
    root = work / "runs"
    root.mkdir()
    prompts = write_prompts_jsonl(work / "prompts.jsonl", task)
    reward = f"{Path(tinylm.__file__).resolve()}:valid_answer_reward"
    (root / "rankinv.toml").write_text(CONFIG.format(prompts=prompts, reward=reward))
    # Collapse: a reward that one answer ("seven") satisfies for every prompt, and a high learning rate.
    run_grpo(model, task.prompts(), [collapse_reward], root / "collapse", callbacks=[RankinvCallback()],
             max_steps=16, learning_rate=5e-2, save_strategy="steps", save_steps=16)
    # Healthy: the task's own reward at a gentle learning rate.
    run_grpo(model, task.prompts(), [task_reward(task)], root / "healthy", callbacks=[RankinvCallback()],
             max_steps=24, learning_rate=1e-4, save_strategy="steps", save_steps=24)
    past = time.time() - 3600  # finished an hour ago: checkpoints count as settled
    for path in root.rglob("checkpoint-*/*"):
        os.utime(path, (past, past))
    return root


def explain(run: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(["explain", str(run), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def verdicts_over_time(run: Path) -> list[tuple[int, Decision]]:
    """The verdict the daemon would have issued after each logged step."""
    cfg = load_config(run.parent / "rankinv.toml")
    full = best_series(read_points(run, run.name), cfg)
    out = []
    for step in full.entropy.steps:
        def upto(c: Curve, step: int = step) -> Curve:
            keep = [i for i, s in enumerate(c.steps) if s <= step]
            return Curve(tuple(c.steps[i] for i in keep), tuple(c.values[i] for i in keep))

        prefix = RunSeries(upto(full.entropy), upto(full.reward), upto(full.zero_std))
        out.append((step, decide(analyse(prefix, cfg.monitor), config=cfg).decision))
    return out


def test_collapsing_run_is_killed_with_an_entropy_reason(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = explain(runs / "collapse", capsys)
    verdict = out["verdict"]
    assert verdict["decision"] == "KILL", verdict["summary"]
    assert verdict["reasons"][0]["metric"] == "entropy drop"
    assert out["monitor"]["drop_at_decision"] > 0.5
    assert out["monitor"]["points"] >= 15, "the TRL log was read step by step"
    history = verdicts_over_time(runs / "collapse")
    assert all(d is not Decision.KILL for s, d in history if s < 12), "no KILL before the decision step"


def test_healthy_run_is_never_killed(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = verdicts_over_time(runs / "healthy")
    assert len(history) >= 20
    assert all(d is not Decision.KILL for _, d in history), history
    out = explain(runs / "healthy", capsys)
    assert out["verdict"]["decision"] != "KILL"
    assert abs(out["monitor"]["drop_now"]) < 0.2


def test_explain_text_resolves_a_run_name_under_a_root(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "collapse", "--root", str(runs)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Run collapse Step 16: KILL (")
    assert "entropy drop" in text and "predicted final pass@10" in text
    assert main(["explain", "collapse", "--root", str(runs), "--pin"]) == 0
    assert "CONTINUE" in capsys.readouterr().out.splitlines()[0]
    assert main(["explain", "nope", "--root", str(runs)]) == 2
    assert "not found" in capsys.readouterr().err


def test_calibrate_eval_triages_final_checkpoints_for_outcomes(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No eval logs: `--eval` measures pass@10 on each run's last checkpoint with a real triage (n=10)."""
    assert main(["calibrate", str(runs), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["with_outcome"] == 0
    assert main(["calibrate", str(runs), "--eval", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"] == 2 and out["with_outcome"] == 2
    assert math.isfinite(out["prior"]["mae"])
    assert "at least 5 finished runs" in out["fitted"]["note"]
    for name, steps in (("collapse", 16), ("healthy", 24)):
        assert (runs / name / f"checkpoint-{steps}" / "rankinv-triage.json").is_file()
