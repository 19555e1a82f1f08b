"""verl's default layout on the real one-node Slurm: the job runs in its submit directory, writes ``slurm-%j.out``
there and its metrics to ``tensorboard_log/<project>/<experiment>``. The TensorBoard folder is the run; its job is
the one whose stdout (confirmed by Slurm's ``StdOut``) names that folder relative to the job's ``WorkDir``.

Each job is a stand-in *writer* for the trainer (no GPU here): it writes the real console output of verl 0.9.1
(``tests/data/frameworklogs/verl-0.9.1/stdout.out``, which prints ``Saving tensorboard log to
tensorboard_log/reallogs/grpo.``) to its own stdout, then keeps running. The oracle is the id ``sbatch`` printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rankinv.daemon.actions.resolve import resolve
from rankinv.daemon.actions.slurm import Slurm

from tests.support.slurm_cluster import SlurmCluster, slurm_cluster, wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
__all__ = ["slurm_cluster"]

CORPUS = Path(__file__).parent / "data" / "frameworklogs" / "verl-0.9.1"
WRITER = """\
#!/usr/bin/python3
import sys, time
sys.stdout.write(open(sys.argv[1]).read())
sys.stdout.flush()
while True:
    time.sleep(1)
"""
RUN = "proj/tensorboard_log/reallogs/grpo"


@pytest.fixture(autouse=True)
def clean_queue(slurm_cluster: SlurmCluster) -> Iterator[None]:
    yield
    slurm_cluster.cancel_all()


def _submit(cluster: SlurmCluster, base: Path, log_text: str, tag: str) -> str:
    """A job submitted from ``base`` (its WorkDir) writing ``log_text`` to ``base/slurm-%j.out``."""
    script, text = base.parent / f"writer-{tag}.py", base.parent / f"log-{tag}.txt"
    script.write_text(WRITER)
    script.chmod(0o755)
    text.write_text(log_text)
    job_id = cluster.sbatch("-J", f"verl-{tag}", "-D", str(base), "-o", str(base / "slurm-%j.out"), str(script),
                            str(text))  # fmt: skip
    wait_for(lambda: "step:20" in _read(base / f"slurm-{job_id}.out"), f"job {job_id} to write its log")
    return job_id


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_the_job_whose_stdout_names_the_tensorboard_folder_is_the_target(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    base = tmp_path / "root" / "proj"
    shutil.copytree(CORPUS / "tensorboard_log", base / "tensorboard_log")
    real = (CORPUS / "stdout.out").read_text()
    job_id = _submit(slurm_cluster, base, real, "a")
    other = _submit(slurm_cluster, base, real.replace("tensorboard_log/reallogs/grpo.", "tensorboard_log/x/y."), "b")
    slurm = Slurm(env=slurm_cluster.env)

    target = resolve(tmp_path / "root" / RUN, RUN, slurm)
    assert (target.kind, target.job_id) == ("slurm", job_id), target.how
    assert other != job_id  # the other job's log names a folder that is not there: not this run's

    twin = _submit(slurm_cluster, base, real, "c")  # a second job writing into the same folder: not guessing
    target = resolve(tmp_path / "root" / RUN, RUN, slurm)
    assert target.kind == "none" and job_id in target.how and twin in target.how, target.how
