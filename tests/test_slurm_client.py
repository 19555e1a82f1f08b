"""The Slurm client when Slurm misbehaves: missing, slow, failing then recovering, printing garbage.

A healthy Slurm cannot be made to hang or print garbage on demand, so these tests put stand-in ``squeue`` and
``scancel`` scripts first on PATH (real processes, real timeouts). The healthy path is
tested against the real one-node cluster in test_slurm_escalation.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rankinv.daemon.actions.slurm import SEP, Slurm, SlurmError, parse_squeue

LINE = SEP.join(["1234", "0", "root", "RUNNING", "grpo-a", "/runs/grpo-a", "(null)", "(null)", "(null)", ""])


def stand_in(tmp_path: Path, name: str, body: str) -> dict[str, str]:
    """A ``name`` script on an otherwise empty PATH; each call is counted in ``<name>.calls``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    calls = tmp_path / f"{name}.calls"
    script.write_text(f"#!/bin/sh\necho x >> {calls}\nn=$(wc -l < {calls})\n{body}\n")
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}


def calls(tmp_path: Path, name: str) -> int:
    path = tmp_path / f"{name}.calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def client(env: dict[str, str], sleeps: list[float], timeout: float = 5.0, retries: int = 3) -> Slurm:
    return Slurm(env=env, timeout=timeout, retries=retries, backoff=0.01, sleep=sleeps.append)


def test_missing_commands_are_reported_without_retrying(tmp_path: Path) -> None:
    sleeps: list[float] = []
    with pytest.raises(SlurmError, match="`squeue` not found on PATH") as err:
        client({"PATH": str(tmp_path)}, sleeps).squeue(me=True)
    assert err.value.kind == "missing" and sleeps == []


def test_a_hanging_squeue_times_out_and_is_retried(tmp_path: Path) -> None:
    sleeps: list[float] = []
    env = stand_in(tmp_path, "squeue", "exec sleep 10")
    with pytest.raises(SlurmError, match=r"did not answer in 0.3 s \(after 2 attempts\)") as err:
        client(env, sleeps, timeout=0.3, retries=2).squeue(me=True)
    assert err.value.kind == "slow" and calls(tmp_path, "squeue") == 2 and sleeps == [0.01]


def test_a_failing_squeue_recovers_with_backoff(tmp_path: Path) -> None:
    sleeps: list[float] = []
    env = stand_in(
        tmp_path,
        "squeue",
        f'[ "$n" -le 2 ] && {{ echo "slurm_load_jobs error: Socket timed out" >&2; exit 1; }}\nprintf "{LINE}\\n"',
    )
    (job,) = client(env, sleeps).squeue(me=True)
    assert (job.job_id, job.uid, job.state, job.comment) == ("1234", 0, "RUNNING", "")
    assert calls(tmp_path, "squeue") == 3 and sleeps == [0.01, 0.02]


def test_a_failure_that_persists_says_what_slurm_said(tmp_path: Path) -> None:
    env = stand_in(tmp_path, "scancel", 'echo "scancel: error: Kill job error: Access/permission denied" >&2; exit 1')
    with pytest.raises(SlurmError, match=r"exited 1: scancel: error: .*permission denied \(after 3 attempts\)"):
        client(env, []).scancel("1234")


def test_garbage_is_refused(tmp_path: Path) -> None:
    env = stand_in(tmp_path, "squeue", 'echo "<html>502 Bad Gateway</html>"')
    with pytest.raises(SlurmError, match="cannot parse") as err:
        client(env, []).squeue(me=True)
    assert err.value.kind == "garbage"
    with pytest.raises(SlurmError):
        parse_squeue(SEP.join(["12x", "0", "root", "R", "n", "/", "", "", "", ""]))


def test_a_job_that_left_the_queue_is_none(tmp_path: Path) -> None:
    env = stand_in(tmp_path, "squeue", 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1')
    assert client(env, []).job("1234") is None
    assert calls(tmp_path, "squeue") == 1


def test_cancelling_a_finished_job_is_not_an_error(tmp_path: Path) -> None:
    env = stand_in(
        tmp_path,
        "scancel",
        'echo "scancel: error: Kill job error on job id 7: Job/step already completing or completed" >&2; exit 1',
    )
    client(env, []).scancel("7")
    assert calls(tmp_path, "scancel") == 1
