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
