"""Listings kept for a one-shot pass answer ``is_dir``/``is_file``/``exists`` as ``pathlib`` does, for every kind of
entry a hostile root holds, and list each folder once.

Oracle: ``pathlib.Path``'s own answers on the same folder, and ``os.scandir`` counted by a wrapper.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from rankinv.boundary import listing


def _zoo(folder: Path) -> list[Path]:
    """A file, a folder, symlinks to each, a broken one, a loop, a FIFO, a socket, and names not there."""
    folder.mkdir()
    (folder / "file").write_text("x")
    (folder / "dir").mkdir()
    (folder / "to-file").symlink_to(folder / "file")
    (folder / "to-dir").symlink_to(folder / "dir")
    (folder / "broken").symlink_to(folder / "nowhere")
    (folder / "loop").symlink_to(folder / "loop")
    os.mkfifo(folder / "fifo")
    names = ["file", "dir", "to-file", "to-dir", "broken", "loop", "fifo", "sock", "absent", "file/inner"]
    return [folder / n for n in names] + [folder / "dir" / "absent", folder, folder.parent / "absent-folder"]


def test_kept_listings_answer_as_pathlib(tmp_path: Path) -> None:
    paths = _zoo(tmp_path / "zoo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "zoo" / "sock"))
        expected = [(p.is_dir(), p.is_file(), p.exists()) for p in paths]
        with listing.listed_once():
            listing.listing(tmp_path)
            listing.listing(tmp_path / "zoo")
            listing.listing(tmp_path / "zoo" / "dir")
            got = [(listing.is_dir(p), listing.is_file(p), listing.exists(p)) for p in paths]
        outside = [(listing.is_dir(p), listing.is_file(p), listing.exists(p)) for p in paths]
    assert got == expected
    assert outside == expected


def test_a_folder_is_listed_once_within_the_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _zoo(tmp_path / "zoo")
    calls: list[str] = []
    real = os.scandir

    def counting(path: str) -> object:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(listing.os, "scandir", counting)
    with listing.listed_once():
        first = sorted(e.name for e in listing.entries(tmp_path / "zoo"))
        (tmp_path / "zoo" / "later").write_text("y")  # written after the listing: the pass reports what it found
        again = sorted(listing.listing(tmp_path / "zoo"))
        with pytest.raises(FileNotFoundError):
            listing.entries(tmp_path / "gone")
        with pytest.raises(FileNotFoundError):
            listing.entries(tmp_path / "gone")  # the error is kept too
    assert first == again and "later" not in again
    assert calls == [str(tmp_path / "zoo"), str(tmp_path / "gone")]
    assert "later" in listing.listing(tmp_path / "zoo")  # outside the block: the disk, every time
