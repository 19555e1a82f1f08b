"""The trust-boundary helpers on real files: regular-file opens, symlink-safe writes, bounded reads, escaping,
and values that must be kept or dropped one record at a time."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from rankinv.daemon.logsetup import EscapingFormatter
from rankinv.daemon.notify.event import Event

from rankinv.boundary.atomic import write_atomic
from rankinv.boundary.files import UnsafeFile, confined, open_regular, read_bytes
from rankinv.boundary.text import shown
from rankinv.errors import RankinvError
from rankinv.ingest import open_source
from rankinv.ingest.tail import MAX_UNIT_BYTES
from rankinv.store import ReadStore, Store
from rankinv.triage.executors import SlurmExecutor
from tests.support import daemon as d


@pytest.mark.timeout(30)
def test_a_log_replaced_by_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    log = tmp_path / "rankinv.jsonl"
    log.write_text('{"step": 1, "entropy": 1.0}\n', encoding="utf-8")
    reader = open_source(log, "run")
    points, offset = reader.read_new()
    assert [p.step for p in points] == [1]
    log.unlink()
    os.mkfifo(log)
    with pytest.raises(UnsafeFile, match="a FIFO, not a regular file"):
        reader.read_new(offset)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 70_000, 99_999, 100_000, 100_001, 300_000])
def test_read_bytes_reads_the_whole_file_up_to_its_limit(tmp_path: Path, size: int) -> None:
    """Read from the descriptor: the file's bytes as Python reads them, or refused past the limit (and a FIFO is
    refused, never waited on)."""
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    if size <= 100_000:
        assert read_bytes(path, 100_000) == path.read_bytes()
    else:
        with pytest.raises(UnsafeFile, match="larger than 100000 bytes"):
            read_bytes(path, 100_000)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafeFile, match="not a regular file"):
        read_bytes(fifo, 100_000)


def test_a_symlink_leaving_the_root_is_refused_unless_allowed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside.jsonl"
    root.mkdir()
    outside.write_text("data\n", encoding="utf-8")
    (root / "inside.jsonl").write_text("ok\n", encoding="utf-8")
    os.symlink(outside, root / "link.jsonl")
    os.symlink("inside.jsonl", root / "alias.jsonl")
    with confined(root):
        with pytest.raises(UnsafeFile, match="outside the runs root"):
            open_regular(root / "link.jsonl")
        with open_regular(root / "alias.jsonl") as f:  # a symlink that stays inside is fine
            assert f.read() == b"ok\n"
    with confined(root, follow_outside=True), open_regular(root / "link.jsonl") as f:
        assert f.read() == b"data\n"


def test_follow_symlinks_outside_root_setting_reaches_the_daemon_scan(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "shared.jsonl"
    (root / "run").mkdir(parents=True)
    outside.write_text('{"step": 1, "entropy": 9.25}\n', encoding="utf-8")
    os.symlink(outside, root / "run" / "rankinv.jsonl")
    for allowed, expected in ((False, ()), (True, (9.25,))):
        (root / "rankinv.toml").write_text(f"[daemon]\nfollow_symlinks_outside_root = {str(allowed).lower()}\n")
        state = tmp_path / f"state-{allowed}"
        proc = d.cli("status", str(root), "--state-dir", str(state))
        assert proc.returncode == 0, proc.stderr
        with ReadStore.open(state / "roots" / os.listdir(state / "roots")[0] / "store.sqlite") as store:
            series = store.series("run").get("entropy")
        assert (series.values if series else ()) == expected


@pytest.mark.timeout(60)
def test_a_sparse_file_of_nuls_is_read_in_bounded_memory(tmp_path: Path) -> None:
    log = tmp_path / "rankinv.jsonl"
    size = 256 << 20
    with log.open("wb") as f:
        f.write(b'{"step": 1, "entropy": 1.0}\n')
        f.truncate(size)  # a hole: 256 MiB of NULs without a newline
        f.seek(0, 2)
        f.write(b'\n{"step": 2, "entropy": 0.5}\n')
    tracemalloc.start()
    try:
        points, offset = open_source(log, "run").read_new()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(p.step, p.value) for p in points] == [(1, 1.0), (2, 0.5)]
    assert offset.position == log.stat().st_size
    # At most the cap, one block and one copy of them (8 MiB each): before the cap, the whole hole and its copies.
    assert peak < 64 << 20, f"peak {peak >> 20} MiB while reading a 256 MiB hole"


def test_an_unterminated_line_longer_than_the_cap_is_skipped_with_a_note(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"{'entropy': '1.0'}\n" + b"y" * (3 * MAX_UNIT_BYTES) + b"\n{'entropy': '0.5'}\n")
    with caplog.at_level(logging.WARNING, logger="rankinv.ingest"):
        points, _ = open_source(log, "run", "pydict").read_new()
    assert [p.value for p in points if p.name == "entropy"] == [1.0, 0.5]
    assert "bytes without a line end" in caplog.text and str(log) in caplog.text


def test_tensorboard_framing_jumps_runs_of_nuls() -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    from rankinv.ingest.tensorboard import walk

    payload = b"event"
    header = len(payload).to_bytes(8, "little")
    crc = masked_crc32c(header).to_bytes(4, "little"), masked_crc32c(payload).to_bytes(4, "little")
    record = header + crc[0] + payload + crc[1]
    data = b"\0" * (64 << 20) + record
    started = time.process_time()
    payloads, used = walk(data, masked_crc32c)
    assert payloads == [payload] and used == len(data)
    assert time.process_time() - started < 5.0  # byte-by-byte in Python takes minutes


def test_writes_replace_a_planted_symlink_and_never_write_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    ckpt = tmp_path / "checkpoint-5"
    ckpt.mkdir()
    os.symlink(victim, ckpt / "rankinv-triage.sbatch")
    executor = SlurmExecutor(env={"PATH": str(tmp_path / "no-slurm-here")})
    with pytest.raises(RankinvError, match="sbatch not found"):
        executor.submit(ckpt)  # the script is written first, then sbatch is looked for
    assert victim.read_text(encoding="utf-8") == "precious\n"
    script = ckpt / "rankinv-triage.sbatch"
    assert not script.is_symlink() and "#SBATCH" in script.read_text(encoding="utf-8")
    os.symlink(victim, ckpt / "rankinv-triage.json")
    write_atomic(ckpt / "rankinv-triage.json", "{}")
    assert victim.read_text(encoding="utf-8") == "precious\n" and not (ckpt / "rankinv-triage.json").is_symlink()


def test_writes_are_refused_in_a_folder_someone_else_owns(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to hand a folder to another user")  # the CI runs as root
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    with pytest.raises(UnsafeFile, match="not by you"):
        write_atomic(folder / "rankinv-triage.json", "{}")
    assert list(folder.iterdir()) == []


def test_init_never_writes_through_a_planted_config_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.toml"
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(victim, root / "rankinv.toml")  # dangling: exists() is False, the old check wrote through it
    proc = d.cli("init", str(root))
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert not victim.exists()
    assert d.cli("init", str(root), "--force").returncode == 0
    assert not victim.exists() and not (root / "rankinv.toml").is_symlink()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain-name_1", "plain-name_1"),
        ("a\x1b]52;c;aGk=\x07b", "a\\x1b]52;c;aGk=\\x07b"),
        ("title\x1b]0;x\x1b\\", "title\\x1b]0;x\\x1b\\"),
        ("line\nforged", "line\\nforged"),
        ("csi\x9b31m", "csi\\x9b31m"),
        ("caf" + os.fsdecode(b"\xe9"), "caf\\xe9"),
        ("rtl\u202eoverride", "rtl\\u202eoverride"),
        ("markup[/]x", "markup[/]x"),
        ("entropy ünïcode ✓", "entropy ünïcode ✓"),
    ],
)
def test_shown_escapes_what_a_terminal_would_act_on(raw: str, expected: str) -> None:
    assert shown(raw) == expected


def test_alerts_and_log_lines_are_escaped_once_at_their_source() -> None:
    event = Event("verdict", "KILL r\x1b]0;t\x07", "body\nline", run="r\x1b[2J")
    assert event.title == "KILL r\\x1b]0;t\\x07" and event.body == "body\\nline" and event.run == "r\\x1b[2J"
    record = logging.LogRecord("rankinv", logging.INFO, __file__, 1, "run %s: %s", ("a\x1b]52;c;x\x07", "b\nc"), None)
    try:
        raise ValueError("bad \x1b[31m name")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = EscapingFormatter("%(message)s").format(record)
    assert "\x1b" not in line and line.startswith("run a\\x1b]52;c;x\\x07: b\\nc\n")
    assert "bad \\x1b[31m name" in line


def test_store_keeps_infinities_and_drops_only_the_out_of_range_step(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store.sqlite") as store:
        store.upsert_run("r", str(tmp_path))
        rows = [(1, "kl", math.inf, None), (2**64, "kl", 1.0, None), (3, "kl", -math.inf, None),
                (4, "kl", math.nan, None)]
        assert store.add_metrics("r", rows) == 3
        series = store.series("r")["kl"]
    assert series.steps == (1, 3, 4)
    assert series.values[:2] == (math.inf, -math.inf) and math.isnan(series.values[2])


def test_undecodable_names_are_stored_escaped_not_refused(tmp_path: Path) -> None:
    name = "caf" + os.fsdecode(b"\xe9")
    with Store.open(tmp_path / "store.sqlite") as store:
        store.upsert_run(name, str(tmp_path / name))
        store.add_metrics(name, [(1, "r" + os.fsdecode(b"\xff"), 1.0, None)])
        assert store.run(name) is not None  # looked up by the same name, escaped the same way
        assert [r.name for r in store.runs()] == ["caf\\xe9"]
        assert list(store.series(name)) == ["r\\xff"]
