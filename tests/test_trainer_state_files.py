"""A run's trainer states are found by one listing of its folder; the oracle is the glob the listing replaced."""

from __future__ import annotations

import os
import re
from pathlib import Path

from rankinv.ingest.trainer_state import STATE_NAME, state_files


def _by_glob(path: Path) -> list[Path]:
    """What ``state_files`` returned when it globbed ``checkpoint-*/trainer_state.json``."""
    if path.is_file():
        return [path]
    found = [(int(m[1]), c) for c in path.glob(f"checkpoint-*/{STATE_NAME}")
             if (m := re.match(r"^checkpoint-(\d+)$", c.parent.name))]  # fmt: skip
    ranked = [p for _, p in sorted(found, reverse=True)]
    return [path / STATE_NAME, *ranked] if (path / STATE_NAME).is_file() else ranked


def test_state_files_are_the_globs(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for name in ("checkpoint-5", "checkpoint-40", "checkpoint-7", "checkpoint-x", "checkpoint-", "checkpoint-9"):
        (run / name).mkdir(parents=True)
    for name in ("checkpoint-5", "checkpoint-40", "checkpoint-x", "checkpoint-"):
        (run / name / STATE_NAME).write_text("{}")
    (run / "checkpoint-9" / STATE_NAME).mkdir()  # a folder of that name: it exists, as glob saw it
    (run / "checkpoint-11").write_text("a file, not a folder")
    os.symlink(run / "checkpoint-40", run / "checkpoint-12")  # a symlink to a checkpoint folder
    os.symlink(tmp_path / "nowhere", run / "checkpoint-13")  # dangling
    (run / "checkpoint-14").mkdir()
    os.symlink(tmp_path / "nowhere", run / "checkpoint-14" / STATE_NAME)  # a dangling state file
    assert state_files(run) == _by_glob(run) != []
    (run / STATE_NAME).write_text("{}")
    assert state_files(run) == _by_glob(run)
    assert state_files(run / STATE_NAME) == [run / STATE_NAME]
    assert state_files(tmp_path / "missing") == _by_glob(tmp_path / "missing") == []
