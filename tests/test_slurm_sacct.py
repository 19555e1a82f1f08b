"""A stdout file in a shared ``logs/`` folder tied to its job once the controller has forgotten it: the sacct path.

What this machine can run: Slurm 22.05 (Debian 12). Its sacct has no ``StdOut`` field (newer Slurm has) and the
one-node test cluster keeps no accounting (no slurmdbd), so on the real cluster sacct can only say nothing, and the
log is then shown as a run of its own, never guessed: that is tested against the real ``sacct``. The other half,
what a newer sacct with accounting prints, is read from a named stand-in that prints exactly that format, with
StdOut as given to sbatch (``%x-%j`` patterns unexpanded), after a real ``scontrol`` would have forgotten the job.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rankinv.ingest import slurmlog
from tests.support.slurm_cluster import SlurmCluster, slurm_cluster, wait_for

__all__ = ["slurm_cluster"]
GRPO = Path(__file__).parent / "data" / "reallogs" / "heldout-grpo-collapse" / "stdout.out"
SEP = "\x1f"


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slurmlog, "_cache", {})
    monkeypatch.setattr(slurmlog, "_slow_until", [0.0])


def test_patterns_sbatch_fills_in_are_filled_in_from_what_sacct_prints() -> None:
    assert slurmlog.expand_pattern("/r/logs/%x-%j.out", "4242", "grpo", "ana") == "/r/logs/grpo-4242.out"
    assert slurmlog.expand_pattern("/r/%u/%A.%6j.log", "4242", "n", "ana") == "/r/ana/4242.004242.log"
    assert slurmlog.expand_pattern("/r/100%%-%j.out", "7", "n", "u") == "/r/100%-7.out"
    assert slurmlog.expand_pattern("/r/%N-%j.out", "7", "n", "u") == "/r/%N-7.out"  # a node is not in sacct's line


def _stand_ins(bin_dir: Path, workdir: Path, stdout: str, uid: int) -> None:
    """scontrol as after MinJobAge (the job is gone), and sacct as a newer Slurm with accounting answers."""
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(
        "#!/bin/sh\necho 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1\n"
    )  # fmt: skip
    fields = "JobID,UID,User,JobName,WorkDir,StdOut"
    line = SEP.join(["4242", str(uid), "ana", "grpo", str(workdir), stdout])
    (bin_dir / "sacct").write_text(  # answers only the query rankinv makes; anything else is an error
        f'#!/bin/sh\n[ "$*" = "-n -P -X --delimiter={SEP} -j 4242 -o {fields}" ] || exit 2\n'
        f"printf '%s\\n' '{line}'\n"
    )  # fmt: skip
    for name in ("scontrol", "sacct"):
        (bin_dir / name).chmod(0o755)


def test_a_finished_jobs_log_is_tied_by_saccts_stdout_and_workdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rankinv.discovery import discover

    root = tmp_path / "runs"
    (root / "grpo-a").mkdir(parents=True)  # the job ran here and left no log of its own
    (root / "logs").mkdir()
    shutil.copy(GRPO, root / "logs" / "grpo-4242.out")
    bin_dir = tmp_path / "bin"
    _stand_ins(bin_dir, root / "grpo-a", f"{root}/logs/%x-%j.out", os.getuid())
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    job = slurmlog.confirmed_job(root / "logs" / "grpo-4242.out", env)
    assert job is not None and job.job_id == "4242" and job.uid == os.getuid()
    assert slurmlog.owner_dir(root / "logs" / "grpo-4242.out", env) == (
        root / "grpo-a", "Slurm job 4242 (StdOut is this file, WorkDir)")  # fmt: skip
    monkeypatch.setenv("PATH", env["PATH"])
    runs = {r.name: r for r in discover(root)}
    assert set(runs) == {"grpo-a"} and runs["grpo-a"].kind == "GRPO"


def test_a_stdout_sacct_names_differently_is_not_tied(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    shutil.copy(GRPO, tmp_path / "logs" / "grpo-4242.out")
    bin_dir = tmp_path / "bin"
    _stand_ins(bin_dir, tmp_path / "elsewhere", f"{tmp_path}/logs/%x-%j.%N.out", os.getuid())
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    assert slurmlog.confirmed_job(tmp_path / "logs" / "grpo-4242.out", env) is None


@pytest.mark.slurm
def test_on_the_real_slurm_sacct_says_nothing_and_scontrol_confirms_while_it_remembers(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    """Slurm 22.05 without accounting: the real sacct refuses, so only the controller's record ties a log."""
    shared = Path(slurm_cluster.dir.parent) / "shared-logs"
    shared.mkdir(exist_ok=True)
    job = slurm_cluster.sbatch("--job-name=grpo", f"--output={shared}/%x-%j.out", "--wrap", "echo hello; sleep 30")
    log = shared / f"grpo-{job}.out"
    wait_for(log.exists, "the job's stdout")
    real = subprocess.run(["sacct", "-n", "-P", "-X", "-j", job, "-o", "JobID,WorkDir"], env=slurm_cluster.env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert real.returncode != 0 and "accounting storage is disabled" in real.stdout + real.stderr
    assert slurmlog._sacct(job, slurm_cluster.env) is None
    info = slurmlog.confirmed_job(log, slurm_cluster.env)
    assert info is not None and info.job_id == job  # scontrol: StdOut is this very file
    slurm_cluster.run("scancel", job)
