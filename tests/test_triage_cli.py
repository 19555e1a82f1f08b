"""`rankinv triage` as users and the daemon run it: the CLI in a real subprocess, and the Slurm executor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rankinv.errors import RankinvError
from rankinv.triage.executors import SlurmExecutor, triage_argv
from rankinv.triage.report import REPORT_FILENAME, TriageReport, read_report
from tests.support import tinylm
from tests.support.slurm_cluster import SlurmCluster, slurm_cluster  # noqa: F401  (fixture)

ARGS = ["--prompts", "toy-add", "--limit", "3", "--samples", "2", "--max-new-tokens", "2", "--no-probe"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tinylm.save_base(tmp_path_factory.mktemp("cli") / "base")


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rankinv", "triage", *argv], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300, check=False)


def test_the_daemons_command_line_prints_the_report_as_json(checkpoint: Path) -> None:
    """The daemon's local executor runs exactly ``triage_argv`` and reads the report it writes."""
    proc = subprocess.run(triage_argv(checkpoint, [*ARGS, "--seed", "3"]), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = TriageReport.from_json(proc.stdout)
    assert report.sampling.prompts == 3 and report.sampling.samples == 2 and report.sampling.seed == 3
    assert report.sampling.temperature == 1.0 and report.sampling.top_k == 0 and report.sampling.top_p == 1.0
    assert report.checkpoint == str(checkpoint.resolve())
    assert read_report(checkpoint) == report  # and it was written next to the checkpoint
    assert report.metrics.entropy_probe is None  # --no-probe


def test_human_summary(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In-process (the subprocess path is covered above): rich table, flag reasons, where the report went."""
    from rankinv.cli import main

    out = tmp_path / "elsewhere.json"
    assert main(["triage", str(checkpoint), *ARGS, "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pass@1" in printed and "headroom" in printed and f"report: {out}" in printed
    assert "FLAGGED" in printed and "below p*(g)" in printed  # an untrained model never solves anything
    assert read_report(out).sampling.prompts == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/no/such/checkpoint", "--prompts", "toy-add"], "checkpoint directory not found"),
        (["{ckpt}", "--prompts", "code-mini"], "--allow-code-exec"),
        (["{ckpt}", "--prompts", "toy-add", "--samples", "1"], "--samples must be at least 2"),
        (["{ckpt}"], "give --prompts"),
        (["{ckpt}", "--prompts", "toy-add", "--reward", "nowhere_module:fn"], "cannot be imported"),
    ],
)
def test_bad_input_is_a_clean_error(checkpoint: Path, argv: list[str], message: str) -> None:
    proc = _cli(*[a.replace("{ckpt}", str(checkpoint)) for a in argv])
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


TEMPLATE = """#!/bin/bash
#SBATCH --job-name=$job_name
#SBATCH --output=$log
export HF_HUB_OFFLINE=1
$command
"""


@pytest.mark.slurm
def test_slurm_executor_submits_and_collects(slurm_cluster: SlurmCluster, checkpoint: Path,  # noqa: F811
                                             tmp_path: Path) -> None:
    executor = SlurmExecutor(TEMPLATE, env=slurm_cluster.env)
    script = executor.render(checkpoint, ARGS)
    assert "rankinv triage" in script and "--json" in script and "$job_name" not in script
    job = executor.submit(checkpoint, [*ARGS, "--seed", "11"])
    report = executor.collect(job, timeout_s=300, poll_s=0.5)
    assert report.sampling.seed == 11
    assert job.report == checkpoint.resolve() / REPORT_FILENAME


@pytest.mark.slurm
def test_slurm_job_that_fails_is_reported_with_its_log(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:  # noqa: F811
    bogus = tmp_path / "not-a-model"
    bogus.mkdir()
    executor = SlurmExecutor(TEMPLATE, env=slurm_cluster.env)
    job = executor.submit(bogus, ["--prompts", "toy-add"])
    with pytest.raises(RankinvError, match="not a Hugging Face checkpoint"):
        executor.collect(job, timeout_s=300, poll_s=0.5)
