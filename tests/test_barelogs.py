"""A trainer's stdout alone is a run; a stdout in a shared logs folder joins the run the evidence names.

The stdout files are real TRL output from the corpus (``tests/data/reallogs``). Slurm evidence is tested on the
real one-node cluster in ``test_stdout_daemon_e2e``; here the evidence is the output directory a log prints, or
none at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rankinv.daemon.pipeline.layout import scan

from rankinv.cli import main
from rankinv.discovery import discover
from rankinv.ingest.slurmlog import job_id_from_name

CORPUS = Path(__file__).parent / "data" / "reallogs"
GRPO = CORPUS / "grpo-ls10-first-eval15" / "stdout.out"
SFT = CORPUS / "sft-ls2-eval3-tb" / "stdout.out"


def test_a_directory_holding_only_slurm_stdout_is_a_run_of_the_kind_its_metrics_say(tmp_path: Path) -> None:
    (tmp_path / "grpo-a").mkdir()
    shutil.copy(GRPO, tmp_path / "grpo-a" / "slurm-4242.out")
    (tmp_path / "sft-b").mkdir()
    shutil.copy(SFT, tmp_path / "sft-b" / "train.log")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.log").write_text("remember to check the lr\n{'a': 1}\n")
    runs = {r.name: r for r in discover(tmp_path)}
    assert set(runs) == {"grpo-a", "sft-b"}
    assert runs["grpo-a"].kind == "GRPO" and runs["sft-b"].kind == "SFT"
    assert set(scan(tmp_path).runs.values()) == {"grpo-a", "sft-b"}  # the daemon sees the same runs


def test_stdout_files_at_the_root_do_not_make_the_root_a_run(tmp_path: Path) -> None:
    shutil.copy(GRPO, tmp_path / "slurm-1.out")
    (tmp_path / "sweep" / "lr1").mkdir(parents=True)
    shutil.copy(GRPO, tmp_path / "sweep" / "lr1" / "slurm-2.out")
    assert [r.name for r in discover(tmp_path)] == ["sweep/lr1"]


def test_a_bare_stdout_runs_metrics_are_at_the_true_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "grpo-a"
    run.mkdir()
    shutil.copy(GRPO, run / "slurm-4242.out")
    assert main(["metrics", str(run), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted({r["step"] for r in rows if r["name"] == "loss"}) == [1, 10, 20, 30]
    assert sorted({r["step"] for r in rows if r["name"] == "eval/loss"}) == [15, 30]


def test_a_shared_logs_file_joins_the_output_directory_it_prints(tmp_path: Path) -> None:
    out = tmp_path / "grpo-lr3"
    out.mkdir()
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "grpo-77.out"
    log.write_text(f"output_dir={out}\n" + GRPO.read_text())
    runs = {r.name: r for r in discover(tmp_path)}
    assert set(runs) == {"grpo-lr3"} and runs["grpo-lr3"].kind == "GRPO"
    layout = scan(tmp_path)
    assert layout.logs_of(out) == [log] and "logs" not in layout.runs.values()


def test_a_shared_logs_file_without_evidence_stays_its_own(tmp_path: Path) -> None:
    """No Slurm record and no printed directory: the file is not given to the run beside it."""
    (tmp_path / "grpo-lr3" / "checkpoint-10").mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    shutil.copy(GRPO, tmp_path / "logs" / "grpo-78.out")
    runs = {r.name: r for r in discover(tmp_path)}
    assert set(runs) == {"grpo-lr3", "logs"}
    assert scan(tmp_path).attached == {}


@pytest.mark.parametrize(
    ("name", "job"),
    [("slurm-4242.out", "4242"), ("grpo-1234.out", "1234"), ("slurm-77_3.out", "77"), ("train.log", None),
     ("run.v2.log", None)],
)  # fmt: skip
def test_job_id_in_a_stdout_name(name: str, job: str | None) -> None:
    assert job_id_from_name(Path(name)) == job
