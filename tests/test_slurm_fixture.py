"""The test cluster fails loudly, never skips: a Slurm that cannot start gives its log tail and leaks nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support import slurm_cluster as sc


def test_a_cluster_that_cannot_start_fails_with_its_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "CONF", sc.CONF + "NoSuchSlurmSetting=1\n")
    base = Path(tempfile.mkdtemp(prefix="rankinv-slurm-bad-"))
    try:
        with pytest.raises(AssertionError, match="slurmctld did not start") as err:
            sc.start_cluster(base / "c")
        message = str(err.value)
        assert "NoSuchSlurmSetting" in message and "slurmctld.log" in message
        assert sc.processes_under(base) == [], "munged (or a Slurm daemon) was left running"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_cluster_needs_root_and_slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(AssertionError, match="run `scripts/setup --test`"):
        sc.start_cluster(Path(tempfile.gettempdir()) / f"rankinv-never-{os.getpid()}")


INNER = """
import os, time
from pathlib import Path

from tests.support.slurm_cluster import slurm_cluster, submit_grpo_job


def test_hold_the_cluster(slurm_cluster):
    job, _ = submit_grpo_job(slurm_cluster, "held")
    slurm_cluster.wait_state(job, ("RUNNING",))
    Path(os.environ["RANKINV_TEST_CLUSTER_ROOT"]).write_text(str(slurm_cluster.dir.parent))
    time.sleep(600)
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", ["sigterm", "sigterm-to-its-group", "sigkill"])
def test_a_killed_pytest_leaves_no_slurm_or_munge_process(how: str, tmp_path: Path) -> None:
    """The fixture in a pytest of its own, with a job running, SIGTERMed (as pytest-timeout or a CI cancel does; a
    CI runner signals the whole process group) or SIGKILLed: nothing of that cluster is left, neither daemons nor
    slurmstepd nor the job, and its temp dir is gone."""
    import signal
    import subprocess
    import sys
    import time

    sig = signal.SIGKILL if how == "sigkill" else signal.SIGTERM
    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "test_inner.py").write_text(INNER)
    marker = tmp_path / "cluster-root"
    env = {**os.environ, "RANKINV_TEST_CLUSTER_ROOT": str(marker), "PYTHONPATH": str(repo)}
    inner = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                              "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    root: Path | None = None
    try:
        sc.wait_for(lambda: marker.exists() or inner.poll() is not None, "the inner pytest's cluster", 180)
        assert inner.poll() is None, inner.communicate()[0].decode(errors="replace")
        root = Path(marker.read_text())
        running = " ".join(sc.processes_under(root))
        for name in ("munged", "slurmctld", "slurmd", "slurmstepd", "slurm_script"):
            assert name in running, f"{name} not running before the SIGTERM: the test would prove nothing"
        if how == "sigterm-to-its-group":
            os.killpg(inner.pid, sig)  # its own session: the group is the inner pytest's alone
        else:
            inner.send_signal(sig)
        assert inner.wait(timeout=30) == -sig  # killed: its fixture's teardown never ran
        deadline = time.monotonic() + 60
        while (sc.processes_under(root) or root.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sc.processes_under(root) == [], "the cluster outlived the pytest that started it"
        assert not root.exists()
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.wait()
        if root is not None:  # on failure: this cluster's processes only (found by its temp dir), never others'
            for pid, _ in sc._under(root):
                os.kill(pid, signal.SIGKILL)
            shutil.rmtree(root, ignore_errors=True)
