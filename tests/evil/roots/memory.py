"""Logs that cost memory or time out of proportion: a sparse file of NULs, one endless unterminated line."""

from __future__ import annotations

from pathlib import Path

from tests.evil.roots.common import grpo_lines, run_dir

SPARSE_BYTES = 256 << 20


def sparse_log(root: Path) -> None:
    """256 MiB of NULs (a sparse file: no disk used) between two good records."""
    path = run_dir(root, b"sparse-log") / "rankinv.jsonl"
    with path.open("wb") as f:
        f.write(grpo_lines(2).encode())
        f.truncate(SPARSE_BYTES)
        f.seek(0, 2)
        f.write(b'\n{"step": 3, "entropy": 0.75}\n')


def long_line(root: Path) -> None:
    """A 40 MB line with no metric in it, then good records."""
    path = run_dir(root, b"long-line") / "rankinv.jsonl"
    with path.open("wb") as f:
        f.write(b'{"step": 1, "entropy": 1.0}\n' + b"x" * (40 << 20) + b"\n" + b'{"step": 2, "entropy": 0.5}\n')


CASES = {
    b"sparse-log": (sparse_log, "records either side of the NULs kept (steps 1, 2, 3); memory stays bounded"),
    b"long-line": (long_line, "the long line is skipped with a warning; steps 1 and 2 kept"),
}
