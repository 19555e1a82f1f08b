"""Long run names stay whole in ``rankinv runs`` and ``rankinv status``: in an 80-column terminal and in a pipe.

Real CLI as a subprocess (in a pseudo-terminal of 80 columns, and with stdout a pipe) on real TRL runs copied
under names of a sweep that differ only at their tail; the oracle is the folder names themselves.
"""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).parent / "data" / "reallogs" / "grpo-ls1"
NAMES = [f"sweep-qwen2.5-coder-3b-sft-epochs-{e}-lr3e-5-seed{s}" for e, s in (("1.0", 0), ("1.0", 1), ("5.8", 0))]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for name in NAMES:
        (root / name).mkdir(parents=True)
        for file in ("stdout.out", "trainer_state.json"):
            shutil.copy(RUN / file, root / name)
    return root


def _in_terminal(argv: list[str], columns: int) -> str:
    """stdout of the CLI in a pseudo-terminal ``columns`` wide (Rich reads the width from ``COLUMNS``)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rankinv", *argv], stdout=follower, stderr=subprocess.PIPE,
                            env=env)  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    return ANSI.sub("", b"".join(chunks).decode()).replace("\r", "")


def _piped(argv: list[str]) -> str:
    done = subprocess.run([sys.executable, "-m", "rankinv", *argv], capture_output=True, text=True, check=True)
    return done.stdout


def _names_in(table: str, column: int, starts_row: int) -> list[str]:
    """The cells of ``column`` in a printed table, a folded cell's lines joined; a row starts where column
    ``starts_row`` holds something."""
    names: list[str] = []
    for line in table.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[starts_row]:
            names.append(cells[column])
        else:
            names[-1] += cells[column]
    return names


@pytest.mark.parametrize("where", ["terminal", "pipe"])
def test_runs_keeps_every_name_whole(where: str, tmp_path: Path) -> None:
    argv = ["runs", str(_root(tmp_path))]
    out = _in_terminal(argv, 80) if where == "terminal" else _piped(argv)
    assert all(len(line) <= 80 for line in out.splitlines()) or where == "pipe"
    assert _names_in(out, 0, 1) == NAMES
    if where == "pipe":
        assert all(name in out for name in NAMES)  # one line each: grep finds a run


@pytest.mark.parametrize("where", ["terminal", "pipe"])
def test_status_keeps_every_name_whole(where: str, tmp_path: Path) -> None:
    argv = ["status", str(_root(tmp_path)), "--state-dir", str(tmp_path / "state")]
    out = _in_terminal(argv, 80) if where == "terminal" else _piped(argv)
    table = out.split("left out to fit")[0]
    assert _names_in(table, 1, 0) == NAMES
    if where == "terminal":
        assert all(len(line) <= 80 for line in table.splitlines())
        assert "left out to fit 80 columns: " in out  # what is missing is said
    else:
        assert "left out" not in out and all(name in out for name in NAMES)
        assert "┃ step ┃" in out and "┃ job " in out  # every column in a pipe
