"""Files that are not what a log should be: FIFOs, devices, sockets, symlinks out of the root, symlink loops."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tests.evil.roots.common import healthy, private_file, run_dir


def fifo_log(root: Path) -> None:
    """The run's manifest and its log are FIFOs nobody writes to: open() would block forever."""
    d = run_dir(root, b"fifo-log")
    os.mkfifo(d / "rankinv.jsonl")
    os.mkfifo(d / "rankinv-run.json")


def devzero_log(root: Path) -> None:
    """A log and a checkpoint config that are symlinks to /dev/zero: endless NULs."""
    d = run_dir(root, b"devzero-log")
    os.symlink("/dev/zero", d / "rankinv.jsonl")
    (d / "checkpoint-1").mkdir()
    os.symlink("/dev/zero", d / "checkpoint-1" / "config.json")


def socket_log(root: Path) -> socket.socket:
    """A Unix socket where the log should be (the caller closes the returned socket)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(run_dir(root, b"socket-log") / "rankinv.jsonl"))
    return sock


def symlink_out_manifest(root: Path) -> None:
    """A manifest symlinked to a private file outside the root: its content must not reach the store or output."""
    d = healthy(run_dir(root, b"symlink-out-manifest"))
    os.symlink(private_file(root), d / "rankinv-run.json")


def symlink_out_log(root: Path) -> None:
    """The run's log is a symlink to a log outside the root."""
    outside = root.parent / "outside.jsonl"
    outside.write_text('{"step": 1, "entropy": 9.25}\n', encoding="utf-8")
    os.symlink(outside, run_dir(root, b"symlink-out-log") / "rankinv.jsonl")


def symlink_loops(root: Path) -> None:
    """Self-referencing symlinks where discovery looks: a log, a checkpoint, a log folder, a config's model path."""
    d = healthy(run_dir(root, b"symlink-loops"))
    os.symlink("train.log", d / "train.log")
    os.symlink("checkpoint-5", d / "checkpoint-5")
    os.symlink("logs", d / "logs")
    ckpt = d / "checkpoint-10"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(f'{{"_name_or_path": "{d / "loop"}"}}', encoding="utf-8")
    os.symlink("loop", d / "loop")
    os.symlink("root-loop", root / "root-loop")


CASES = {
    b"fifo-log": (fifo_log, "listed; its log is refused as a FIFO (clear message), nothing hangs"),
    b"devzero-log": (devzero_log, "listed; /dev/zero is refused (outside the root and a device), no memory growth"),
    b"socket-log": (socket_log, "listed; the socket is refused, nothing crashes"),
    b"symlink-out-manifest": (symlink_out_manifest, "the private file's content appears nowhere (store, output)"),
    b"symlink-out-log": (symlink_out_log, "the outside log is not read (no entropy 9.25)"),
    b"symlink-loops": (symlink_loops, "listed with its 4 points; the loops crash nothing"),
}
