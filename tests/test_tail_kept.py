"""Logs kept open between reads (the daemon's way): one open per log instead of three per read, and every
hostile change of the path between two reads still noticed, as by a read through the path."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rankinv.boundary import files
from rankinv.boundary.files import UnsafeFile, confined
from rankinv.ingest import START, Offset, open_source
from rankinv.ingest import tail as tail_module
from rankinv.ingest.kept import KeptFiles, keeping


def line(i: int) -> str:
    return json.dumps({"step": i, "x": i + 0.5}) + "\n"


def steps(found: list) -> list[int]:  # type: ignore[type-arg]
    return [p.step for p in found if p.name == "x"]


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every open of a log (by the tail and by the kept files), counted."""
    seen: list[str] = []
    real = files.open_regular

    def counted(path: str | Path) -> object:
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(tail_module, "open_regular", counted)
    monkeypatch.setattr("rankinv.ingest.kept.open_regular", counted)
    return seen


def read(log: Path, offset: Offset) -> tuple[list[int], Offset]:
    found, new = open_source(log, "r", "jsonl").read_new(offset)
    return steps(found), new


def test_appends_to_a_kept_log_open_it_once(tmp_path: Path, opens: list[str]) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text(line(0))
    kept, got, offset = KeptFiles(), [], START
    with keeping(kept):
        for i in range(1, 60):  # past the 4 KiB fingerprint, so both sides of it are read from the descriptor
            new, offset = read(log, offset)
            got += new
            with log.open("a") as f:
                f.write(line(i))
        got += read(log, offset)[0]
    kept.close_all()
    assert got == list(range(60))
    assert len(opens) <= 4  # the first read's three opens, and the one kept
    before = len(opens)
    read(log, START)  # without keeping: two opens per read (head check; read, its new fingerprint taken there)
    assert len(opens) - before == 1  # from the start: no fingerprint to check


Swap = Callable[[Path, Path], None]


def _symlink_out(log: Path, outside: Path) -> None:
    log.unlink()
    log.symlink_to(outside)


def _folder_out(log: Path, outside: Path) -> None:
    run = log.parent
    run.rename(run.with_name("moved"))
    run.symlink_to(outside.parent)


def _hardlink_elsewhere(log: Path, outside: Path) -> None:
    log.unlink()
    os.link(outside, log)


@pytest.mark.parametrize("swap", [_symlink_out, _folder_out, _hardlink_elsewhere], ids=lambda f: f.__name__)
def test_a_log_swapped_for_a_file_outside_the_root_is_not_read_from_the_kept_descriptor(tmp_path: Path,
                                                                                      swap: Swap) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "private"
    (root / "run").mkdir(parents=True)
    elsewhere.mkdir()
    log, outside = root / "run" / "train.jsonl", elsewhere / "train.jsonl"
    log.write_text(line(0))
    outside.write_text(line(0) + line(666))  # the same first record: the fingerprint alone would not tell
    kept = KeptFiles()
    with confined(root), keeping(kept):
        got, offset = read(log, START)
        assert got == [0] and kept.files
        swap(log, outside)
        if swap is _hardlink_elsewhere:  # a hard link inside the root is that file's name in the root: it is read
            assert read(log, offset)[0] == [666]
        else:
            with pytest.raises(UnsafeFile, match="outside the runs root"):
                read(log, offset)
    kept.close_all()


def test_a_log_swapped_for_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    log = tmp_path / "train.jsonl"
    log.write_text(line(0))
    kept = KeptFiles()
    outcome: list[object] = []

    def reader() -> None:
        with keeping(kept):
            _, offset = read(log, START)
            log.unlink()
            os.mkfifo(log)
            try:
                read(log, offset)
            except UnsafeFile as exc:
                outcome.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    t.join(timeout=10)
    assert not t.is_alive(), "a read blocked on a FIFO"
    assert outcome and "a FIFO" in str(outcome[0])
    kept.close_all()


def test_rewritten_in_place_with_the_same_length_restarts(tmp_path: Path) -> None:
    log = tmp_path / "train.jsonl"
    log.write_text(line(1) + line(2))
    kept = KeptFiles()
    with keeping(kept):
        got, offset = read(log, START)
        with log.open("r+") as f:  # same inode, same size, other bytes
            f.write(line(7) + line(8))
        again, _ = read(log, offset)
    kept.close_all()
    assert got == [1, 2] and again == [7, 8]


@pytest.mark.parametrize("how", ["rename", "copytruncate", "truncate"])
def test_rotation_and_truncation_read_as_through_the_path(tmp_path: Path, how: str) -> None:
    results = []
    for mode in ("path", "kept"):
        d = tmp_path / mode
        d.mkdir()
        log = d / "train.jsonl"
        log.write_text("".join(line(i) for i in range(100)))  # larger than the fingerprint
        kept = KeptFiles() if mode == "kept" else None
        with keeping(kept):
            got, offset = read(log, START)
            with log.open("a") as f:
                f.write(line(100))
            if how == "rename":
                log.rename(d / "train.jsonl.1")
            elif how == "copytruncate":
                shutil.copy(log, d / "train.jsonl.1")
            log.write_text(line(200))
            new, _ = read(log, offset)
        if kept is not None:
            kept.close_all()
        results.append(got + new)
    assert results[0] == results[1]
    expected_new = [100, 200] if how != "truncate" else [200]
    assert results[1] == [*range(100), *expected_new]


def test_a_deleted_log_is_closed_by_prune(tmp_path: Path) -> None:
    log = tmp_path / "train.jsonl"
    log.write_text(line(0))
    kept = KeptFiles()
    with keeping(kept):
        read(log, START)
    fd = kept.files[str(log)].file.fileno()
    log.unlink()
    kept.prune()
    assert not kept.files
    with pytest.raises(OSError):
        os.fstat(fd)  # closed: the deleted file's space is freed


def test_a_kept_log_is_not_reused_for_an_offset_from_elsewhere(tmp_path: Path) -> None:
    """A rolled-back write hands the reader an older offset: it is read again from there, not from the kept end."""
    log = tmp_path / "train.jsonl"
    log.write_text(line(0) + line(1))
    kept = KeptFiles()
    with keeping(kept):
        _, first = read(log, START)
        with log.open("a") as f:
            f.write(line(2))
        assert read(log, first)[0] == [2]
        assert read(log, first)[0] == [2]  # the same older offset again: the same records again
    kept.close_all()


def test_a_small_logs_folder_listing_is_reused_until_the_folder_changes(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The rotated-copy check of a small log lists its folder on each read; kept, only when the folder changed."""
    log = tmp_path / "train.jsonl"
    log.write_text(line(0))
    (tmp_path / "other.txt").write_text("x")
    old = time.time() - 60
    os.utime(tmp_path, (old, old))
    listings = []
    real = os.scandir

    def counted(path: object) -> object:
        listings.append(path)
        return real(path)  # type: ignore[call-overload]

    monkeypatch.setattr(tail_module.os, "scandir", counted)
    kept = KeptFiles()
    with keeping(kept):
        got, offset = read(log, START)
        for i in range(1, 6):
            with log.open("a") as f:
                f.write(line(i))
            new, offset = read(log, offset)
            got += new
        listed = len(listings)
        assert listed <= 1
        shutil.copy(log, tmp_path / "train.jsonl.1")  # copytruncate: the folder changes, the copy is found
        log.write_text(line(9))
        got += read(log, offset)[0]
    kept.close_all()
    assert len(listings) > listed
    assert got == [0, 1, 2, 3, 4, 5, 9]


@pytest.fixture(autouse=True)
def _no_fd_leak() -> Iterator[None]:
    before = set(os.listdir("/proc/self/fd"))
    yield
    leaked = set(os.listdir("/proc/self/fd")) - before
    assert len(leaked) <= 1, f"descriptors left open: {leaked}"


def test_offsets_encode_as_asdict_did() -> None:
    """The hand-written encoding gives the same text as ``json.dumps(asdict(offset), sort_keys=True)`` (the
    stored offsets of an older daemon are read back by this one and compared as text)."""
    import dataclasses

    odd = "é\udce9\"\\\n\x00\u2028𝄞"  # non-ASCII, a lone surrogate, quotes, escapes, controls, astral
    for offset in (START, Offset(12, 34, "ab", 3, 7, "sig", (1, 2), (5, 6, 7)), Offset(position=1, last_step=None),
                   Offset(2**70, -3, odd, 0, -(2**64), odd, (2**65,), (0,)), Offset(5, None, "", 1, None, "", (), (9,)),
                   Offset(True, 1, "x", False, True), Offset(1.5, 2.0, "x", 3, 4.25),  # type: ignore[arg-type]
                   Offset(1, 2, "x", 3, 4, "", [1, 2], (True,))):  # type: ignore[arg-type]  # fmt: skip
        assert offset.to_json() == json.dumps(dataclasses.asdict(offset), sort_keys=True)
        if type(offset.drained) is tuple:
            assert Offset.from_json(offset.to_json()) == offset


def test_a_kept_logs_first_bytes_are_read_once_per_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fingerprint check and the new fingerprint share one read of the file's first bytes (they were two), on
    both sides of the 4 KiB fingerprint; the offsets are those a read through the path gives."""
    log = tmp_path / "a.jsonl"
    log.write_text(line(0))
    heads: list[int] = []
    real = os.pread

    def counted(fd: int, n: int, at: int) -> bytes:
        if at == 0:
            heads.append(n)
        return real(fd, n, at)

    monkeypatch.setattr(tail_module, "_pread", counted)
    kept, offset = KeptFiles(), START
    with keeping(kept):
        _, offset = read(log, offset)  # the full path, then the file kept
        for i in range(1, 200):
            with log.open("a") as f:
                f.write(line(i))
            before = len(heads)
            got, offset = read(log, offset)
            assert got == [i]
            assert len(heads) - before == 1, f"append {i}: the first bytes read {len(heads) - before} times"
    kept.close_all()
    assert offset.position > tail_module.HEAD_BYTES
    _, through = read(log, START)  # not kept: every check through the path
    assert (offset.position, offset.inode, offset.head, offset.records, offset.last_step) == (
        through.position, through.inode, through.head, through.records, through.last_step)


@pytest.mark.parametrize("same_start", [False, True], ids=["other-first-bytes", "same-first-4-KiB"])
@pytest.mark.parametrize("size", [20, 300], ids=["small", "past-4-KiB"])
def test_a_kept_log_rewritten_in_place_to_a_larger_size_restarts(tmp_path: Path, same_start: bool, size: int) -> None:
    """Truncated and written again in place (same inode, the size grown past the last read, the mtime moved as
    by an append): only the bytes tell, and they are still compared."""
    log = tmp_path / "train.jsonl"
    log.write_text("".join(line(i) for i in range(size)))
    kept = KeptFiles()
    with keeping(kept):
        got, offset = read(log, START)
        with log.open("a") as f:  # one append read from the kept descriptor first
            f.write(line(size))
        more, offset = read(log, offset)
        inode = os.stat(log).st_ino
        keep = size - 2 if same_start else 0  # the same first lines (all of the first 4 KiB past it), then others
        rewritten = [line(i) for i in range(keep)] + [json.dumps({"step": i, "x": -1.0}) + "\n"
                                                      for i in range(keep, 2 * size)]  # fmt: skip
        with log.open("r+") as f:
            f.truncate(0)
            f.write("".join(rewritten))
        assert os.stat(log).st_ino == inode and os.stat(log).st_size > offset.position
        again, _ = read(log, offset)
    kept.close_all()
    assert got == list(range(size)) and more == [size]
    assert again == list(range(2 * size))  # read from the start again, every record once


def test_offsets_field_order_is_the_one_the_readers_build_positionally() -> None:
    """The kept path and the line reader build an Offset by position (no ``replace``): its fields in this order."""
    import dataclasses

    assert [f.name for f in dataclasses.fields(Offset)] == ["position", "inode", "head", "records", "last_step",
                                                            "signature", "drained", "progress"]  # fmt: skip
