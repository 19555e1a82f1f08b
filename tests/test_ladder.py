"""The ladder's --quick mode, run for real (tiny TRL SFT and GRPO, rankinv triage and stage 2), is well formed.

This checks the plumbing and the table's shape, not the science outcome: three rungs and a few GRPO steps cannot
settle whether rank inversion appears (the README reports the full run).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from rankinv.stats import spearman

ROOT = Path(__file__).resolve().parents[1]
ROW_KEYS = {"depth", "epochs", "pass1", "entropy", "headroom", "pre_pass10", "predicted", "predicted_lo",
            "predicted_hi", "predicted_rl", "actual", "stage1", "stage1_reasons", "stage2", "stage2_summary",
            "stage2_first_kill", "rl_zero_std", "run_dir", "pre_passk", "never_solved", "degenerate", "eval_loss",
            "rl_entropy_start", "after_counts", "features", "answer_probs"}
UNIT = ("pass1", "predicted", "predicted_lo", "predicted_hi", "predicted_rl", "actual")
TITLES = ("SFT steps", "pre-RL pass@1", "rollout entropy", "headroom", "predicted pass@10", "actual pass@10",
          "stage 1", "stage 2")

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], check=False, cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("ladder") / "out"
    proc = _run("-m", "examples.ladder", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "ladder.json").read_text()), proc.stdout


def test_every_rung_has_every_column_in_range(quick: tuple[Path, dict[str, Any], str]) -> None:
    _, table, _ = quick
    rows = table["rows"]
    assert [r["depth"] for r in rows] == sorted(table["settings"]["depths"]) and len(rows) == 3
    for row in rows:
        assert set(row) == ROW_KEYS
        for key in UNIT:
            assert row[key] is not None and 0.0 <= row[key] <= 1.0, (key, row[key])
        assert row["predicted_lo"] <= row["predicted"] <= row["predicted_hi"]
        assert math.isfinite(row["entropy"]) and row["entropy"] >= 0.0
        assert math.isfinite(row["headroom"]) and row["headroom"] >= 0.0
        assert row["epochs"] > 0


def test_verdicts_are_valid_and_explained(quick: tuple[Path, dict[str, Any], str]) -> None:
    for row in quick[1]["rows"]:
        assert row["stage1"] in ("ok", "FLAG")
        assert (row["stage1"] == "FLAG") == bool(row["stage1_reasons"])
        assert row["stage2"] in ("KILL", "WATCH", "CONTINUE")
        assert row["stage2_summary"].startswith(row["stage2"])


def test_spearman_values_match_the_rows(quick: tuple[Path, dict[str, Any], str]) -> None:
    table = quick[1]
    actual = [r["actual"] for r in table["rows"]]
    for key, column in (("predicted", "predicted"), ("pass1", "pass1"), ("entropy", "entropy")):
        x = [r[column] for r in table["rows"]]
        stored = table["spearman"][key]
        if len(set(x)) < 2 or len(set(actual)) < 2:
            assert stored is None, key
        else:
            assert stored == pytest.approx(spearman(x, actual)) and -1.0 <= stored <= 1.0


def test_markdown_table_and_stdout_show_the_same_table(quick: tuple[Path, dict[str, Any], str]) -> None:
    out, table, stdout = quick
    markdown = (out / "ladder.md").read_text()
    header = markdown.splitlines()[0]
    assert all(title in header for title in TITLES)
    data = [line for line in markdown.splitlines()[2:] if line.startswith("| ")]
    assert [int(line.split("|")[1]) for line in data] == [r["depth"] for r in table["rows"]]
    assert "Spearman with actual pass@10" in markdown and markdown in stdout


def test_rankinv_artifacts_exist_and_explain_agrees(quick: tuple[Path, dict[str, Any], str]) -> None:
    out, table, _ = quick
    for depth in table["settings"]["depths"]:
        assert (out / "sft" / f"checkpoint-{depth}" / "rankinv-triage.json").is_file()
    row = table["rows"][-1]
    run_dir = Path(row["run_dir"])
    assert (run_dir / "rankinv.jsonl").stat().st_size > 0 and (run_dir / "rankinv-run.json").is_file()
    proc = _run("-m", "rankinv", "explain", str(run_dir), "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    explained = json.loads(proc.stdout)
    assert explained["verdict"]["decision"] == row["stage2"]
    assert explained["outcome_pass10"] == pytest.approx(row["actual"], abs=1e-9)


def test_a_used_output_directory_is_refused_without_touching_it(tmp_path: Path) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    proc = _run("-m", "examples.ladder", "--quick", "--out", str(tmp_path), timeout=120)
    assert proc.returncode == 2 and "not an empty directory" in proc.stderr and "Traceback" not in proc.stderr
    assert keep.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_stage2_replay_reads_the_finished_ladder(quick: tuple[Path, dict[str, Any], str]) -> None:
    """``python -m examples.ladder.stage2 --ladder OUT`` replays every rung under both policies; the replayed first
    KILL under the default policy is the one the ladder itself recorded."""
    out, table, _ = quick
    rows_file = out / "stage2.json"
    proc = _run("-m", "examples.ladder.stage2", "--ladder", str(out), "--json", str(rows_file))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| toy ladder | groups | 3 (" in proc.stdout and "| toy ladder | tau2 | 3 (" in proc.stdout
    replayed = json.loads(rows_file.read_text())
    assert [r["first_kill"]["groups"] for r in replayed] == [r["stage2_first_kill"] for r in table["rows"]]


@pytest.fixture(scope="module")
def hump_quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("hump") / "out"
    proc = _run("-m", "examples.ladder", "--task", "hump", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "ladder.json").read_text())


def test_hump_rungs_carry_the_sft_runs_eval_loss(hump_quick: tuple[Path, dict[str, Any]]) -> None:
    """The SFT run logs eval_loss on its held-out rows; each checkpoint's triage report, the stored features and the
    row all hold the last one the checkpoint's own trainer_state.json logged (read here with plain json)."""
    out, table = hump_quick
    assert table["settings"]["task"] == "hump" and len(table["rows"]) == 3
    for row in table["rows"]:
        state = json.loads((out / "sft" / f"checkpoint-{row['depth']}" / "trainer_state.json").read_text())
        logged = [h["eval_loss"] for h in state["log_history"] if "eval_loss" in h]
        report = json.loads((out / "sft" / f"checkpoint-{row['depth']}" / "rankinv-triage.json").read_text())
        assert logged and report["sft"]["eval_loss"] == pytest.approx(logged[-1])
        assert row["eval_loss"] == row["features"]["sft_eval_loss"] == pytest.approx(logged[-1])
        assert report["sft"]["eval_loss_min"] == pytest.approx(min(logged))
        assert len(row["after_counts"]) == len(row["features"]["prompt_counts"]) == 58
    assert set(ROW_KEYS) == set(table["rows"][0])


def test_hump_stage2_replay_and_evidence_read_a_fresh_ladder(hump_quick: tuple[Path, dict[str, Any]]) -> None:
    """The stored-results path end to end on a fresh quick ladder: replay, store, recompute the tables."""
    out, table = hump_quick
    proc = _run("-m", "examples.ladder.stage2", "--ladder", str(out))
    assert proc.returncode == 0 and "| hump ladder | groups | 3 (" in proc.stdout, proc.stderr[-2000:]
    from examples.ladder.evidence import hump_table, load
    from examples.ladder.stage2 import ladder_rows

    results = out.parent / "results"
    results.mkdir()
    stage2 = [dataclasses.asdict(r) for r in ladder_rows(out)]
    (results / "hump-seed0.json").write_text(json.dumps({"commit": "x", "ladder": table, "stage2": stage2}))
    ladders = load(results)
    assert [lad.seed for lad in ladders] == [0] and ladders[0].split == "dev"
    assert "| 0 | dev |" in hump_table(ladders)


def test_archived_runs_replay_as_the_run_directories_do(
    hump_quick: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A seed's archive keeps what a replay reads: replayed from the unpacked archive alone (the run directories'
    checkpoints and the SFT run not in it), every rung's first KILL is the one the ladder recorded while it ran."""
    out, table = hump_quick
    from examples.ladder.collect import archive, unpack
    from examples.ladder.stage2 import ladder_rows

    stored = tmp_path / "runs" / "hump-seed0.tar.gz"
    archive(out, stored)
    with tarfile.open(stored) as tar:
        names = tar.getnames()
    assert not any("checkpoint" in n or n.endswith((".safetensors", ".pth")) for n in names)
    replayed = ladder_rows(unpack(stored, tmp_path / "unpacked"))
    assert [r.first_kill["groups"] for r in replayed] == [r["stage2_first_kill"] for r in table["rows"]]
    assert [r.after for r in replayed] == [r["actual"] for r in table["rows"]]
