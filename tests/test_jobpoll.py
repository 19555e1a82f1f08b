"""The job poller when Slurm is absent, hangs or answers: one ``squeue`` call for every run, the loop never waits
on it, and an unanswered question reads ``slurm?``. The healthy path on the real cluster is test_job_column.py.

A Slurm that hangs cannot be made on demand, so a stand-in ``squeue`` script (a real process) is put on PATH;
its calls are counted in a file.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rankinv.daemon.jobpoll import GONE, UNKNOWN, JobPoller

from rankinv.slurmjob import SEP, SlurmParseError, elapsed_seconds, parse_show_job
from rankinv.store import Store
from tests.test_slurm_client import calls, stand_in

RUNS = {f"grpo-{i}": str(100 + i) for i in range(5)}


def _store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "store.sqlite")
    for run, job in RUNS.items():
        store.upsert_run(run, f"/runs/{run}", kind="grpo", job_id=job)
    return store


def _poller(store: Store, env: dict[str, str], timeout: float = 2.0) -> JobPoller:
    poller = JobPoller(store, interval=60, timeout=timeout)  # one question per test: the first is due at once
    poller.slurm.env = env
    return poller


def _until_written(store: Store, poller: JobPoller, run: str = "grpo-0") -> None:
    deadline = time.monotonic() + 10
    while store.run(run).job_checked_at is None:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "no answer written"
        poller.tick()
        time.sleep(0.02)
    poller.stop()


def test_one_call_for_every_run_and_the_answer_is_written(tmp_path: Path) -> None:
    # Jobs 100 and 101 are known (one running for 1:02:03 on node7, one cancelled); the rest have left.
    lines = [SEP.join(["100", "RUNNING", "1:02:03", "node7", ""]), SEP.join(["101", "CANCELLED", "5:00", "node8", ""])]
    env = stand_in(tmp_path, "squeue", "printf '" + "\\n".join(lines) + "\\n'")
    with _store(tmp_path) as store:
        store.upsert_run("grpo-2", "/runs/grpo-2", job_state="COMPLETED")  # seen finishing before it left
        poller = _poller(store, env)
        _until_written(store, poller)
        got = {r.name: (r.job_state, r.job_node, r.job_elapsed) for r in store.runs()}
    assert calls(tmp_path, "squeue") == 1
    assert got["grpo-0"] == ("RUNNING", "node7", 3723.0)
    assert got["grpo-1"] == ("CANCELLED", "node8", 300.0)
    assert got["grpo-2"] == ("COMPLETED", None, None)
    assert got["grpo-3"] == (GONE, None, None)


def test_accounting_answers_for_jobs_the_controller_forgot_and_settled_jobs_are_not_asked_again(
    tmp_path: Path,
) -> None:
    """squeue knows job 100 (running); sacct knows 101 (cancelled by a user); the rest are unknown to both. The
    next poll asks squeue about 100 and the unknown ones only: 101 is settled."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    running = SEP.join(["100", "RUNNING", "2:00", "node7", ""])
    for name, out in (("squeue", running), ("sacct", SEP.join(["101", "CANCELLED by 1000", "00:05:00", "node8"]))):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/{name}.argv\nprintf \'%s\\n\' \'{out}\'\n')
        script.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    with _store(tmp_path) as store:
        poller = _poller(store, env)
        _until_written(store, poller)
        got = {r.name: (r.job_state, r.job_node, r.job_elapsed) for r in store.runs()}
        assert got["grpo-0"] == ("RUNNING", "node7", 120.0)
        assert got["grpo-1"] == ("CANCELLED", "node8", 300.0)
        assert got["grpo-2"] == (GONE, None, None)
        poller.due = 0.0  # the next poll, now
        poller.tick()
        poller.stop()
    squeue = (tmp_path / "squeue.argv").read_text().splitlines()
    assert len(squeue) == 2 and "--jobs=100,101,102,103,104" in squeue[0]
    assert squeue[1].endswith("--jobs=100")  # 101 is settled (CANCELLED), 102-104 gone: none asked again
    sacct = (tmp_path / "sacct.argv").read_text().splitlines()
    assert len(sacct) == 1 and sacct[0].endswith("--jobs=101,102,103,104")


def test_a_hanging_slurm_never_stalls_the_loop_and_reads_unknown(tmp_path: Path) -> None:
    env = stand_in(tmp_path, "squeue", "exec sleep 30")
    with _store(tmp_path) as store:
        poller = _poller(store, env, timeout=0.5)
        started = time.monotonic()
        poller.tick()
        assert time.monotonic() - started < 0.2, "tick waited for squeue"
        _until_written(store, poller)
        assert {r.job_state for r in store.runs()} == {UNKNOWN}
    assert calls(tmp_path, "squeue") == 1


def test_no_slurm_installed_reads_unknown(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        poller = _poller(store, {"PATH": str(tmp_path)})
        _until_written(store, poller)
        assert {r.job_state for r in store.runs()} == {UNKNOWN}


def test_no_job_ids_never_asks(tmp_path: Path) -> None:
    env = stand_in(tmp_path, "squeue", "exit 1")
    with Store.open(tmp_path / "store.sqlite") as store:
        store.upsert_run("local", "/runs/local", kind="grpo")
        poller = _poller(store, env)
        for _ in range(5):
            poller.tick()
        poller.stop()
    assert calls(tmp_path, "squeue") == 0


def test_scontrol_lines_parse_with_spaces_and_refuse_forged_keys() -> None:
    # A line as the real cluster prints it (trimmed): values with spaces run to the next key.
    line = ("JobId=7 JobName=my job UserId=alice(1001) JobState=RUNNING RunTime=1-00:00:05 NodeList=gpu01 "
            "TRES=cpu=1,node=1 Command=/a b/run.sh --lr 1 WorkDir=/runs/my run "
            "StdOut=/runs/my run/slurm-7.out")  # fmt: skip
    (job,) = parse_show_job(line)
    assert (job.job_id, job.uid, job.user, job.state, job.node) == ("7", 1001, "alice", "RUNNING", "gpu01")
    assert job.name == "my job" and job.workdir == "/runs/my run" and job.stdout == "/runs/my run/slurm-7.out"
    assert job.elapsed == 86405.0
    assert elapsed_seconds("12:34") == 754.0 and elapsed_seconds("INVALID") is None
    forged = line.replace("JobName=my job", "JobName=x WorkDir=/victim")  # a name that names a WorkDir
    with pytest.raises(SlurmParseError, match="cannot be told apart"):
        parse_show_job(forged)
