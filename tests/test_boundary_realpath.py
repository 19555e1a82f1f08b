"""The root check's ``realpath`` asks the kernel (``O_PATH`` + ``/proc/self/fd``) instead of an ``lstat`` per
component; it must say what ``os.path.realpath`` says for every kind of path a hostile root holds.

Oracle: the standard library's ``os.path.realpath`` on the same path.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from rankinv.boundary.files import UnsafeFile, confined, open_regular, realpath


def _tree(tmp_path: Path) -> tuple[Path, list[Path]]:
    root = tmp_path / "root"
    (root / "run" / "logs").mkdir(parents=True)
    outside = tmp_path / "outside.jsonl"
    outside.write_text("{}\n")
    (root / "run" / "rankinv.jsonl").write_text("{}\n")
    (root / "run" / "out.jsonl").symlink_to(outside)
    (root / "run" / "rel.jsonl").symlink_to("rankinv.jsonl")
    (root / "run" / "up").symlink_to("..")
    (root / "run" / "loop-a").symlink_to("loop-b")
    (root / "run" / "loop-b").symlink_to("loop-a")
    (root / "run" / "dangling").symlink_to(tmp_path / "nowhere")
    (root / "linked-run").symlink_to(root / "run")
    os.mkfifo(root / "run" / "train.fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "run" / "sock"))
    sock.close()
    (root / "run" / "zero").symlink_to("/dev/zero")
    run = root / "run"
    paths = [
        run / "rankinv.jsonl", run / "out.jsonl", run / "rel.jsonl", run / "up" / "run" / "rankinv.jsonl",
        run / "up" / ".." / "outside.jsonl", run / "loop-a", run / "loop-a" / "x", run / "dangling",
        run / "missing.jsonl", run / "missing" / "deeper", root / "linked-run" / "rankinv.jsonl", run / "logs",
        run / "logs" / "", run / "train.fifo", run / "sock", run / "zero", run / "rankinv.jsonl" / "not-a-dir",
        Path(os.path.relpath(run / "rel.jsonl")), run / "." / "rankinv.jsonl",
    ]  # fmt: skip
    return root, paths


def test_realpath_is_the_standard_librarys_for_every_kind_of_path(tmp_path: Path) -> None:
    _, paths = _tree(tmp_path)
    for path in paths:
        assert realpath(path) == os.path.realpath(path), path
        assert realpath(str(path)) == os.path.realpath(str(path)), path


def test_the_root_check_refuses_and_reads_as_before(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    run = root / "run"
    with confined(root):
        with open_regular(run / "rel.jsonl") as f:
            assert f.read() == b"{}\n"
        with open_regular(root / "linked-run" / "rankinv.jsonl") as f:
            assert f.read() == b"{}\n"
        for path, words in ((run / "out.jsonl", "outside the runs root"), (run / "zero", "outside the runs root"),
                            (run / "train.fifo", "a FIFO"), (run / "sock", "a socket"),
                            (run / "loop-a", "symlink loop")):  # fmt: skip
            with pytest.raises(UnsafeFile, match=words):
                open_regular(path)
