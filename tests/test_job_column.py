"""The job column on the real one-node Slurm: a running job shows RUNNING, its node and a growing elapsed time;
after an armed kill (requested as the TUI's ``K`` requests it) it shows what the kill did and Slurm's final state.

The oracle is Slurm itself (``squeue`` run by the test) and the job's own files (its SIGUSR1 log), never the
poller's code. The store is read as ``rankinv status --json`` prints it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rankinv.messages import Command, CommandKind
from rankinv.store import CommandChannel, ReadStore, store_path_for
from tests.support import daemon as D
from tests.support.slurm_cluster import SlurmCluster, slurm_cluster, submit_grpo_job

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
__all__ = ["slurm_cluster"]

CONFIG = """
[actions]
armed = true
grace_seconds = 3
confirm_seconds = 15
[daemon]
job_poll_seconds = 0.5
triage_executor = "none"
"""


@pytest.fixture(autouse=True)
def clean_queue(slurm_cluster: SlurmCluster) -> Iterator[None]:
    yield
    slurm_cluster.cancel_all()


def _status(root: Path, state: Path) -> dict[str, Any]:
    out = D.cli("status", str(root), "--state-dir", str(state), "--json")
    row: dict[str, Any] = next(c for c in json.loads(out.stdout)["candidates"] if c["run"] == "grpo-jc")
    return row


def _cell(root: Path, state: Path) -> str:
    """The job cell the TUI draws for the run, from the store the TUI reads."""
    from rankinv.tui import format as fmt

    def cell(store: ReadStore) -> str:
        (c,) = [c for c in store.snapshot().candidates if c.run == "grpo-jc"]
        kill = next((a for a in store.actions("grpo-jc") if a.kind == "kill"), None)
        return fmt.job(c, kill)

    return D.read(root, state, cell)


def _squeue(cluster: SlurmCluster, job_id: str, field: str) -> str:
    return cluster.run("squeue", "-h", "-t", "all", "-j", job_id, "-O", f"{field}:0").stdout.strip()


def test_running_then_killed_job_in_the_column(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    job_id, run_dir = submit_grpo_job(slurm_cluster, "jobcol/grpo-jc")
    root = run_dir.parent
    (root / "rankinv.toml").write_text(CONFIG)
    state = tmp_path / "state"
    slurm_cluster.wait_state(job_id, ("RUNNING",))
    proc = D.start(root, state, extra_env=slurm_cluster.env)
    try:
        D.wait_for("the daemon to be ready", lambda: D.read(root, state, lambda s: s.health().get("ready") == "true"))
        row = D.wait_for("the job column to show the running job",
                         lambda: (r := _status(root, state))["job_state"] == "RUNNING" and r)
        assert row["job_id"] == job_id and row["job_node"] == _squeue(slurm_cluster, job_id, "NodeList")
        assert isinstance(row["job_elapsed"], float)
        first = row["job_elapsed"]
        later = D.wait_for("a later poll with more elapsed time",
                           lambda: (r := _status(root, state))["job_elapsed"] > first + 1 and r)
        assert later["job_state"] == "RUNNING"

        with CommandChannel.open(store_path_for(root, state)) as channel:
            channel.send(Command(CommandKind.KILL, "grpo-jc"), source="test")
        D.wait_for("USR1 to reach the job", (run_dir / "usr1.log").exists)
        cell = D.wait_for("the TUI's cell to say the signal was sent", lambda: "USR1 sent" in (c := _cell(root, state))
                          and c)  # fmt: skip
        assert cell.startswith(f"{job_id} R ")  # still running in the grace period
        final = D.wait_for("the column to show Slurm's final state",
                           lambda: (r := _status(root, state))["job_state"] == "CANCELLED" and r)
        assert _squeue(slurm_cluster, job_id, "State") == "CANCELLED"  # Slurm agrees
        text = D.cli("status", str(root), "--state-dir", str(state)).stdout
        assert f"{job_id} CA" in text and final["job_node"] in text
        # Once the ledger says the kill is done, status prints the cell the TUI draws: the job and "killed".
        D.wait_for("status's job cell to say the job was killed",
                   lambda: _status(root, state)["job"].endswith(" killed"))
        assert _status(root, state)["job"] == _cell(root, state)
        assert " killed" in D.cli("status", str(root), "--state-dir", str(state)).stdout
    finally:
        assert D.stop(proc) == 0
