"""Each reader on hand-built logs in the documented layouts of verl, OpenRLHF/W&B and older TRL."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from rankinv.errors import RankinvError
from rankinv.ingest import Offset, open_source, sources_for_run
from rankinv.ingest.detect import detect_format
from rankinv.metrics import MetricPoint

LOGS = Path(__file__).parent / "data" / "logs"


def series(found: list[MetricPoint], name: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for p in found:
        if p.name == name:
            assert p.step not in out, f"duplicate {name} at step {p.step}"
            out[p.step] = p.value
    return out


def test_verl_console() -> None:
    reader = open_source(LOGS / "verl_console.log", "verl")
    assert reader.fmt == "verl_console"
    found, offset = reader.read_new(None)
    entropy = series(found, "entropy")
    assert list(entropy) == [1, 2, 3, 4]  # step 5 is cut mid-line: never half-parsed
    assert entropy[1] == 0.6931 and entropy[2] == 0.6512 and entropy[4] == 0.601
    assert math.isnan(entropy[3])
    assert series(found, "reward_mean") == {1: 0.25, 2: 0.3125, 3: 0.375, 4: 0.4}
    assert series(found, "kl") == {1: 0.0, 2: 0.0004}
    assert series(found, "learning_rate") == {1: 1e-06}
    assert series(found, "eval/openai/gsm8k/pass@8") == {3: 0.78}
    assert series(found, "eval/openai/gsm8k/pass@1") == {3: 0.41}
    assert series(found, "timing_s/gen") == {1: 41.2}
    assert offset.last_step == 4


def test_verl_console_finishes_the_cut_line_when_it_is_completed(tmp_path: Path) -> None:
    log = tmp_path / "verl.log"
    shutil.copy(LOGS / "verl_console.log", log)
    reader = open_source(log, "verl")
    _, offset = reader.read_new(None)
    with log.open("a") as f:
        f.write("ean:np.float64(0.5)\n")
    found, _ = reader.read_new(offset)
    assert [(p.step, p.name, p.value) for p in found] == [(5, "entropy", 0.59), (5, "reward_mean", 0.5)]


def test_verl_file_logger_jsonl() -> None:
    found, _ = open_source(LOGS / "verl_file.jsonl", "verl").read_new(None)
    assert series(found, "entropy") == {1: 0.6931, 2: 0.6512}
    assert series(found, "reward_mean") == {1: 0.25, 2: 0.3125}
    assert series(found, "completion_length_mean") == {1: 312.5}
    assert series(found, "eval/openai/gsm8k/reward/best@16") == {2: 0.9}  # a reward need not be 0/1: not pass@16


def test_openrlhf_wandb_export() -> None:
    found, _ = open_source(LOGS / "openrlhf_wandb.jsonl", "openrlhf").read_new(None)
    assert series(found, "kl") == {1: 0.001, 2: 0.002}
    assert series(found, "reward_mean") == {1: 0.2, 2: 0.3}
    assert series(found, "completion_length_mean") == {1: 301.0, 2: 288.0}
    assert series(found, "eval/gsm8k/pass@8") == {2: 0.81}
    assert {p.time for p in found if p.step == 1} == {1767000000.5}


def test_old_trl_stdout_with_tqdm_and_prints() -> None:
    reader = open_source(LOGS / "trl_old" / "stdout.log", "old")
    assert reader.fmt == "pydict"
    found, offset = reader.read_new(None)
    assert series(found, "reward_mean") == {1: 0.25, 2: 0.375, 3: 0.5, 4: 0.625}
    assert series(found, "completion_length_mean") == {1: 187.5, 2: 160.25, 3: 140.0, 4: 121.0}
    assert series(found, "reward_mean/accuracy_reward")[3] == 0.5
    assert math.isnan(series(found, "grad_norm")[4])
    assert series(found, "train_runtime") == {}  # the end-of-training summary is not a step
    assert offset.records == 4


def test_old_trl_trainer_state_is_deduplicated_across_checkpoints(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoint-2").mkdir(parents=True)
    shutil.copy(LOGS / "trl_old" / "checkpoint-2" / "trainer_state.json", run / "checkpoint-2")
    reader = open_source(run, "old")
    assert reader.fmt == "trainer_state"
    first, offset = reader.read_new(None)
    assert series(first, "reward_mean") == {1: 0.25, 2: 0.375}
    assert reader.read_new(offset)[0] == []  # unchanged files are not re-read
    shutil.copytree(LOGS / "trl_old" / "checkpoint-4", run / "checkpoint-4")
    second, offset = reader.read_new(Offset.from_json(offset.to_json()))
    assert series(second, "reward_mean") == {3: 0.5, 4: 0.625}
    assert series(second, "kl") == {3: 0.0051, 4: 0.009}
    assert offset.last_step == 4


def test_trainer_state_and_stdout_agree_on_the_old_trl_run() -> None:
    state, _ = open_source(LOGS / "trl_old", "old").read_new(None)
    stdout, _ = open_source(LOGS / "trl_old" / "stdout.log", "old").read_new(None)
    for name in ("reward_mean", "reward_std", "kl", "completion_length_mean", "learning_rate"):
        assert series(state, name) == series(stdout, name), name


def test_half_written_trainer_state_is_retried(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoint-4").mkdir(parents=True)
    text = (LOGS / "trl_old" / "checkpoint-4" / "trainer_state.json").read_text()
    (run / "checkpoint-4" / "trainer_state.json").write_text(text[: len(text) // 2])
    reader = open_source(run, "old", "trainer_state")
    found, offset = reader.read_new(None)
    assert found == []
    (run / "checkpoint-4" / "trainer_state.json").write_text(text)
    found, _ = reader.read_new(offset)
    assert list(series(found, "reward_mean")) == [1, 2, 3, 4]


def test_sources_for_run_lists_each_log_with_its_format(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(LOGS / "trl_old", run)
    shutil.copy(LOGS / "verl_console.log", run / "verl.log")
    shutil.copy(LOGS / "verl_file.jsonl", run / "metrics.jsonl")
    (run / "notes.txt").write_text("nothing here yet\n")
    found = {s.path.name: s.fmt for s in sources_for_run(run)}
    assert found == {
        "run": "trainer_state", "metrics.jsonl": "jsonl", "notes.txt": "console",
        "stdout.log": "pydict", "verl.log": "verl_console",
    }


def test_formats_can_be_forced_and_bad_choices_are_clear_errors(tmp_path: Path) -> None:
    found, _ = open_source(LOGS / "verl_console.log", "v", "console").read_new(None)
    assert series(found, "reward_mean")[2] == 0.3125
    with pytest.raises(RankinvError, match="unknown log format 'csv'"):
        open_source(LOGS / "verl_console.log", "v", "csv")
    with pytest.raises(RankinvError, match="no such log file"):
        open_source(tmp_path / "missing.log", "v")
    with pytest.raises(RankinvError, match=r"directory without trainer_state\.json"):
        detect_format(tmp_path)


def test_metrics_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rankinv.cli import main

    assert main(["metrics", str(LOGS / "verl_console.log"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    entropy = [(r["step"], r["value"]) for r in rows if r["name"] == "entropy"]
    assert entropy == [(1, 0.6931), (2, 0.6512), (3, "nan"), (4, 0.601)]
    assert main(["metrics", str(LOGS / "trl_old"), "--name", "kl"]) == 0
    out = capsys.readouterr().out
    assert "0.0051" in out and "completion_length_mean" in out
    assert main(["metrics", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no training logs found" in err and "*.out" in err and "give that file" in err


def test_a_null_in_verl_jsonl_is_a_missing_value_not_a_dropped_one(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 1, "data": {"actor/entropy": 0.7}}\n{"step": 2, "data": {"actor/entropy": null}}\n')
    found, _ = open_source(log, "verl").read_new(None)
    entropy = series(found, "entropy")
    assert list(entropy) == [1, 2] and entropy[1] == 0.7 and math.isnan(entropy[2])


def test_a_printed_global_step_places_the_dict_after_it(tmp_path: Path) -> None:
    """Hand-built: a training script printing ``Global step N`` before each log dict, with no progress bar."""
    log = tmp_path / "slurm-3.out"
    log.write_text("Global step 40\n{'loss': 0.5, 'entropy': 1.2, 'epoch': 0.1}\nGlobal step 80\n"
                   "{'loss': 0.4, 'entropy': 1.1, 'epoch': 0.2}\n{'loss': 0.3, 'entropy': 1.0, 'epoch': 0.3}\n")
    found, _ = open_source(log, "g", logging_steps=40).read_new(None)
    assert series(found, "entropy") == {40: 1.2, 80: 1.1, 120: 1.0}  # the last: no new evidence, one interval on
