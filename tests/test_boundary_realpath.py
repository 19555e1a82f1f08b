"""The root check's ``realpath`` asks the kernel (``O_PATH`` + ``/proc/self/fd``) instead of an ``lstat`` per
component; it must say what ``os.path.realpath`` says for every kind of path a hostile root holds.

Oracle: the standard library's ``os.path.realpath`` on the same path.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from rankinv.boundary import files, listing
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


def test_realpath_from_kept_listings_is_the_standard_librarys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a one-shot pass's kept listings, a listed name that is no symlink is its folder's real path and the
    name; the answer is still the standard library's, for every path of the hostile tree, each folder's real path
    asked of the disk once for the names read in it in a row."""
    root, paths = _tree(tmp_path)
    run = root / "run"
    asked: list[str] = []
    kernel = files._kernel_realpath
    monkeypatch.setattr(files, "_kernel_realpath", lambda p: asked.append(os.fspath(p)) or kernel(p))
    with listing.listed_once():
        for folder in (root, run, run / "logs", root / "linked-run"):
            listing.listing(folder)
        for path in [*paths, *paths]:
            assert realpath(path) == os.path.realpath(path), path
            assert realpath(str(path)) == os.path.realpath(str(path)), path
        asked.clear()
        assert realpath(run) == os.path.realpath(run)  # a name in the root: the root's real path, once
        for name in ("rankinv.jsonl", "train.fifo", "sock", "logs", "missing.jsonl"):
            assert realpath(run / name) == os.path.realpath(run / name)
        assert realpath(run / "logs" / "") == os.path.realpath(run / "logs")
    assert asked == [str(root), str(run), str(run / "missing.jsonl")]  # each folder once; a name not listed: the disk
    for path in paths:  # outside the block: the disk, as before
        assert realpath(path) == os.path.realpath(path), path


def test_the_root_check_from_kept_listings_refuses_and_reads_as_before(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    run = root / "run"
    with confined(root), listing.listed_once():
        listing.listing(run)
        listing.listing(root)
        with open_regular(run / "rankinv.jsonl") as f:
            assert f.read() == b"{}\n"
        with open_regular(root / "linked-run" / "rankinv.jsonl") as f:
            assert f.read() == b"{}\n"
        for path, words in ((run / "out.jsonl", "outside the runs root"), (run / "zero", "outside the runs root"),
                            (run / "train.fifo", "a FIFO"), (run / "sock", "a socket"),
                            (run / "loop-a", "symlink loop")):  # fmt: skip
            with pytest.raises(UnsafeFile, match=words):
                open_regular(path)
        (run / "rankinv.jsonl").unlink()
        (run / "rankinv.jsonl").symlink_to(tmp_path / "outside.jsonl")  # swapped after the listing
        with pytest.raises(OSError):  # the listing said a file; opened without following: refused, never read
            open_regular(run / "rankinv.jsonl")
