"""Real TRL GRPO jobs on the CPU: one converging (its reward learnt to the ceiling), one collapsing (entropy spent
on answers that fail), one healthy, and one starved (GRPO from the untrained model: every group fails from the
first step, the entropy never moves). The collapsing run is KILLed by its decision step, the converging, the
healthy and the starved ones are never KILLed at any step of their history (the starved one is WATCHed as
starved, not judged a collapse); the paper's tau2 rule, kept as a named policy, KILLs the converging and the
starved ones too.

All are real ``GRPOTrainer`` runs (in-process, to fit the test budget) from the same tiny SFT checkpoint; they log
every step through rankinv's TRL callback into their output directories, which `rankinv explain` then reads as
bare run directories. Whether a run collapsed is measured independently of the logs: by sampling its final
model (``sampled_pass_at``). The stage-2 windows are the paper's scaled to 40-step runs in the runs root's
``rankinv.toml`` (decision step 150 of 400 → 15 of 40; the split's window equal to the hold window, as in the
defaults).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path

import pytest

from rankinv.assess import load_features, primary_series, start_report
from rankinv.cli import main
from rankinv.config import Config, load_config
from rankinv.evaluate import verdict_history
from rankinv.ingest.sources import read_manifest
from rankinv.verdict import CONVERGED, STARVED, Decision, Verdict
from tests.support import tinylm
from tests.support.grpo_job import _collapse_reward as seven_reward
from tests.support.tinylm import ToyTask, run_grpo, sampled_pass_at, save_base, sft, task_reward, write_prompts_jsonl

pytestmark = pytest.mark.slow

CONFIG = """
[monitor]
baseline_step = 2
decision_step = 15
signal_window = 4
slope_window = 10
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
STEPS = 40
RL = {"per_device_train_batch_size": 16, "max_steps": STEPS, "save_strategy": "steps", "save_steps": STEPS}


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
    # Converging: an easy reward (one answer, "seven", satisfies every prompt) the tiny model learns to its ceiling.
    run_grpo(model, task.prompts(), [seven_reward], root / "converge", callbacks=[RankinvCallback()],
             learning_rate=5e-2, **RL)
    # Collapsing: the task's own reward at a learning rate that collapses the policy onto wrong answers.
    run_grpo(model, task.prompts(), [task_reward(task)], root / "collapse", callbacks=[RankinvCallback()],
             learning_rate=5e-2, **RL)
    # Healthy: the task's own reward at a gentle learning rate.
    run_grpo(model, task.prompts(), [task_reward(task)], root / "healthy", callbacks=[RankinvCallback()],
             learning_rate=1e-4, **RL)
    # Starved: the task's reward from an SFT run under the root stopped after one step at a tiny learning rate
    # (still the untrained model, in effect), its checkpoint triaged (stage 1 sees no signal) as the daemon would.
    sft(work / "base", task.sft_rows(), root / "undertrained", epochs=1, learning_rate=1e-6, save_steps=1,
        callbacks=[RankinvCallback()])  # fmt: skip
    start = starting_checkpoint(root)
    assert main(["triage", str(start), "--config", str(root / "rankinv.toml"), "--no-probe"]) == 0
    run_grpo(start, task.prompts(), [task_reward(task)], root / "starved", callbacks=[RankinvCallback()],
             learning_rate=1e-4, **RL)
    past = time.time() - 3600  # finished an hour ago: checkpoints count as settled
    for path in root.rglob("checkpoint-*/*"):
        os.utime(path, (past, past))
    (root.parent / "sft-model").symlink_to(model)
    return root


def starting_checkpoint(root: Path) -> Path:
    """The under-trained SFT run's one checkpoint, the starved run's start."""
    return min((root / "undertrained").glob("checkpoint-*"))


def explain(run: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(["explain", str(run), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def verdicts_over_time(run: Path, cfg: Config | None = None) -> list[tuple[int, Decision]]:
    """The verdict the daemon would have issued after each logged step (the same evaluation path, with the
    triage of the run's starting checkpoint where one exists)."""
    return [(step, v.decision) for step, v in history_of(run, cfg)]


def history_of(run: Path, cfg: Config | None = None) -> list[tuple[int, Verdict]]:
    cfg = cfg or load_config(run.parent / "rankinv.toml")
    triage = load_features(start_report(run))
    return verdict_history(primary_series(run, run.name, cfg), triage, cfg, name=run.name,
                           manifest=read_manifest(run))  # fmt: skip


def first_kill(history: list[tuple[int, Decision]]) -> int | None:
    return next((s for s, d in history if d is Decision.KILL), None)


def test_collapsing_run_is_killed_by_its_decision_step(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = ToyTask()
    before = sampled_pass_at(runs.parent / "sft-model", task.prompts(), task_reward(task))
    after = sampled_pass_at(runs / "collapse" / f"checkpoint-{STEPS}", task.prompts(), task_reward(task))
    assert after[10] < before[10], "the oracle: GRPO lost pass@10 on this run"
    out = explain(runs / "collapse", capsys)
    verdict = out["verdict"]
    assert verdict["decision"] == "KILL", verdict["summary"]
    assert "all-fail group share" in [r["metric"] for r in verdict["reasons"] if r["grade"] == "kill"]
    assert out["monitor"]["points"] == STEPS, "the TRL log was read step by step"
    assert first_kill(verdicts_over_time(runs / "collapse")) == 15, "KILL at the decision step, not before"


def test_converging_run_is_never_killed(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    after = sampled_pass_at(runs / "converge" / f"checkpoint-{STEPS}", ToyTask().prompts(), seven_reward)
    assert after[1] > 0.9, "the oracle: the run learnt its reward"
    out = explain(runs / "converge", capsys)
    assert out["monitor"]["drop_now"] > 0.5, "entropy fell past the paper's tau2"
    assert out["verdict"]["decision"] == "CONTINUE"
    assert out["verdict"]["reasons"][0]["metric"] == CONVERGED
    assert first_kill(verdicts_over_time(runs / "converge")) is None
    cfg = load_config(runs / "rankinv.toml")
    paper = dataclasses.replace(cfg, verdict=dataclasses.replace(cfg.verdict, stage2_policy="tau2"))
    assert first_kill(verdicts_over_time(runs / "converge", paper)) is not None, "tau2 alone kills convergence"


def test_healthy_run_is_never_killed(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = verdicts_over_time(runs / "healthy")
    assert len(history) == STEPS
    assert first_kill(history) is None, history
    out = explain(runs / "healthy", capsys)
    assert out["verdict"]["decision"] != "KILL"
    assert abs(out["monitor"]["drop_now"]) < 0.2


def test_a_run_starved_of_signal_from_the_start_is_watched_as_starved_never_killed(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Groups all fail from the first step because the model never passes (stage 1 says so), and the entropy
    does not move: that is too little SFT, not a collapse. The paper's rule KILLs it on its dead group signal."""
    task = ToyTask()
    start = starting_checkpoint(runs)
    assert sampled_pass_at(start, task.prompts(), task_reward(task))[10] < 0.05, "the oracle: it never passes"
    report = load_features(start_report(runs / "starved"))
    assert report is not None and report.headroom < 1, "stage 1 saw no signal in the starting checkpoint"
    history = history_of(runs / "starved")
    assert len(history) == STEPS and first_kill([(s, v.decision) for s, v in history]) is None
    out = explain(runs / "starved", capsys)
    assert out["verdict"]["decision"] == "WATCH"
    assert out["verdict"]["reasons"][0]["metric"] == STARVED, out["verdict"]["summary"]
    assert abs(out["monitor"]["drop_now"]) < 0.2 and out["monitor"]["zero_std_now"] >= 0.9
    cfg = load_config(runs / "rankinv.toml")
    paper = dataclasses.replace(cfg, verdict=dataclasses.replace(cfg.verdict, stage2_policy="tau2"))
    assert first_kill(verdicts_over_time(runs / "starved", paper)) is not None


def test_explain_and_the_daemon_store_the_same_evaluation(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A one-shot daemon scan (``rankinv status``) stores monitor, prediction and verdict; `explain` on the same
    run directory gives the same values field by field (manifest g=4, not the default 8, and G=4 groups a step,
    which both read from the manifest)."""
    from rankinv.store import ReadStore, store_path_for

    assert main(["status", str(runs), "--state-dir", str(tmp_path), "--json"]) == 0
    candidates = {c["run"]: c for c in json.loads(capsys.readouterr().out)["candidates"] if c["checkpoint"] is None}
    store = ReadStore.open(store_path_for(runs, tmp_path))
    try:
        for name in ("converge", "collapse", "healthy", "starved"):
            out = explain(runs / name, capsys)
            stored, row = store.latest_verdict(name), candidates[name]
            assert stored is not None
            v, p, m = out["verdict"], out["prediction"], out["monitor"]
            assert (stored.decision, stored.confidence, stored.step) == (v["decision"], v["confidence"], v["step"])
            assert [r.render() for r in stored.reasons] == [r["text"] for r in v["reasons"]]
            assert (row["predicted"], row["predicted_lo"], row["predicted_hi"], row["basis"]) == pytest.approx(
                (p["estimate"], p["lo"], p["hi"], p["basis"]))
            assert (row["live_entropy"], row["entropy_drop"], row["zero_std_fraction"]) == pytest.approx(
                (m["entropy_now"], m["drop_now"], m["zero_std_now"]))
            assert read_manifest(runs / name)["group_size"] == 4
            # G from the trainer's arguments: 16 completions a step (one device, no accumulation) in groups of 4
            assert read_manifest(runs / name)["groups_per_step"] == RL["per_device_train_batch_size"] // 4
            assert out["groups_per_step"]["source"] == "manifest"
    finally:
        store.close()


def test_explain_text_resolves_a_run_name_under_a_root(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "collapse", "--root", str(runs)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Run collapse Step {STEPS}: KILL (")
    assert "all-fail group share" in text and "predicted final pass@10" in text
    assert "not a calibrated probability" in text.splitlines()[1]
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
    assert out["runs"] == 4 and out["with_outcome"] == 4
    assert math.isfinite(out["prior"]["mae"])
    assert "at least 5 finished runs" in out["fitted"]["note"]
    for name in ("converge", "collapse", "healthy", "starved"):
        assert (runs / name / f"checkpoint-{STEPS}" / "rankinv-triage.json").is_file()


def test_explain_prints_a_count_term_as_a_count(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The trajectory's number of points reads ``points 38``, the fractions beside it keep three decimals."""
    terms = explain(runs / "collapse", capsys)["prediction"]["terms"]
    assert main(["explain", str(runs / "collapse")]) == 0
    text = capsys.readouterr().out
    points = terms["points"]
    assert points == int(points) > 0
    assert f"points {int(points)}," in text or text.rstrip().endswith(f"points {int(points)}")
    assert f"learn {terms['learn']:.3f}" in text
