"""Names are data in generated sbatch scripts: a hostile run directory name is quoted, or refused.

A run directory is named by whoever can write the runs root. Its name reaches the ``#SBATCH --output=`` line
(parsed by sbatch's own tokenizer, with ``%`` patterns) and the shell command of the triage job. The real
one-node Slurm runs the script; the triage command is stood in for by ``/bin/echo`` (a real triage needs a
model, and what is under test is the script around it).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from rankinv.errors import RankinvError
from rankinv.triage.executors import SlurmExecutor
from tests.support.slurm_cluster import SlurmCluster, slurm_cluster, wait_for

__all__ = ["slurm_cluster"]
HOSTILE = "run $(touch PWNED) `touch PWNED2`; 'q' \"d\" %j x"
TEMPLATE = """#!/bin/bash
#SBATCH --job-name=$job_name
#SBATCH --output=$log
echo "checkpoint: " $checkpoint
$command
"""


def checkpoint(tmp_path: Path, run: str) -> Path:
    ckpt = tmp_path / run / "checkpoint-10"
    ckpt.mkdir(parents=True)
    return ckpt


def test_the_output_line_and_command_carry_the_name_as_one_word(tmp_path: Path) -> None:
    ckpt = checkpoint(tmp_path, HOSTILE)
    script = SlurmExecutor(python="/bin/echo").render(ckpt, ["--samples", "4"])
    (output,) = [line for line in script.splitlines() if line.startswith("#SBATCH --output=")]
    expected = str(ckpt / "rankinv-triage.log").replace("%", "%%")  # %% is Slurm's literal %
    assert shlex.split(output.removeprefix("#SBATCH --output=")) == [expected]
    (command,) = [line for line in script.splitlines() if line.startswith("/bin/echo")]
    assert shlex.split(command)[4] == str(ckpt)


@pytest.mark.parametrize("bad", ["run\ntouch PWNED", "run\rx", "run\x1b]0;title\x07", "run\x85x"])
def test_a_name_with_a_control_character_is_refused_for_sbatch(tmp_path: Path, bad: str) -> None:
    ckpt = checkpoint(tmp_path, bad)
    executor = SlurmExecutor(python="/bin/echo", env={"PATH": str(tmp_path / "no-slurm")})
    for attempt in (lambda: executor.render(ckpt, []), lambda: executor.submit(ckpt, [])):
        with pytest.raises(RankinvError, match="newline or other control character cannot be triaged with sbatch"):
            attempt()
    assert not (ckpt / "rankinv-triage.sbatch").exists()


@pytest.mark.slurm
def test_a_hostile_name_runs_as_data_on_real_slurm(
    slurm_cluster: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the daemon's folder; the job itself starts in /
    ckpt = checkpoint(tmp_path, HOSTILE).resolve()
    executor = SlurmExecutor(TEMPLATE, python="/bin/echo", env=slurm_cluster.env)
    job = executor.submit(ckpt, ["--samples", "4"])
    wait_for(lambda: executor.finished(job), f"job {job.job_id} to finish", timeout=60)
    log = (ckpt / "rankinv-triage.log").read_text()
    assert f"checkpoint:  {ckpt}\n" in log and f"triage {ckpt} --samples 4" in log, log
    assert not list(tmp_path.rglob("PWNED*")), "nothing in the name ran"
    assert not list(Path("/").glob("PWNED*")), "nothing in the name ran in the job's working directory"


SHADOW = '''raise ImportError("the rankinv/ folder of the submit directory was imported")\n'''


@pytest.mark.slurm
def test_a_triage_job_does_not_import_a_rankinv_folder_beside_the_daemon(
    slurm_cluster: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon run in the foreground from ``~`` that holds a clone of this repository: ``python -m rankinv``
    in a job that started there would import the clone (here a stand-in that cannot be imported)."""
    (tmp_path / "rankinv").mkdir()
    (tmp_path / "rankinv" / "__init__.py").write_text(SHADOW)
    monkeypatch.chdir(tmp_path)
    ckpt = checkpoint(tmp_path / "runs", "sft").resolve()
    template = TEMPLATE.replace("$command", 'echo "workdir: $(pwd)"\n$command')
    executor = SlurmExecutor(template, env=slurm_cluster.env)  # the real interpreter and `python -m rankinv`
    job = executor.submit(ckpt, ["--help"])  # the real triage CLI; --help needs no model
    wait_for(lambda: executor.finished(job), f"job {job.job_id} to finish", timeout=60)
    log = (ckpt / "rankinv-triage.log").read_text()
    assert "workdir: /\n" in log, log
    assert "submit directory was imported" not in log and "usage: rankinv triage" in log, log
