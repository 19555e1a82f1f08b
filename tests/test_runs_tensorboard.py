"""``rankinv runs`` shows the last step of a run whose only log is TensorBoard event files, from their ends.

Event files are written by real writers: PyTorch's ``SummaryWriter`` (what verl's tracking uses, in verl's
``tensorboard_log/<project>/<experiment>`` layout beside its ``checkpoints/`` twin) and the tensorboard package's
own ``EventFileWriter``. The oracle is the steps each test wrote. The look must stay cheap: a big file is read at
its end only (the bytes read are counted), and the records found in a window starting anywhere in a file are
checked against the file's framing parsed by the test itself (lengths only, no CRC).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from rankinv.ingest import peek, sources_for_run
from rankinv.ingest.tensorboard import tail_payloads
from tests.test_verl_layout import verl_checkpoint  # a complete global_step_N/actor/huggingface

VERL_TAGS = ("actor/entropy", "critic/score/mean", "actor/pg_loss", "response_length/mean")


def _verl_writes(logdir: Path, steps: range, text_after: int = 0) -> None:
    """What verl's tracking does each step: one ``add_scalar`` per metric; ``text_after``: then a text summary of
    that many characters (a large non-scalar record at the file's end)."""
    writer = pytest.importorskip("torch.utils.tensorboard").SummaryWriter(str(logdir))
    for step in steps:
        for k, tag in enumerate(VERL_TAGS):
            writer.add_scalar(tag, 1.0 / (step + k + 1), step)
    if text_after:
        writer.add_text("config", "x" * text_after, steps[-1] + 1)
    writer.close()


def _runs_json(root: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "rankinv", "runs", str(root), "--json"], capture_output=True,
                          text=True, check=True, timeout=120)  # fmt: skip
    return {r["name"]: r for r in json.loads(done.stdout)}


def test_runs_shows_the_last_step_of_tensorboard_only_runs_in_verls_layout(tmp_path: Path) -> None:
    tb = tmp_path / "tensorboard_log" / "proj"
    _verl_writes(tb / "exp-long", range(1, 2501))  # far over the bytes read at its end
    verl_checkpoint(tmp_path / "checkpoints" / "proj" / "exp-long" / "global_step_1000")
    _verl_writes(tb / "exp-short", range(1, 41))  # a file smaller than the window: read from its start
    _verl_writes(tb / "exp-restart", range(1, 801))  # resumed: a second event file goes on from step 700
    _verl_writes(tb / "exp-restart", range(700, 951))
    _verl_writes(tb / "exp-text-tail", range(1, 501), text_after=300_000)  # ends in a 300 KB non-scalar record
    assert sum(f.stat().st_size for f in (tb / "exp-long").iterdir()) > 64 * peek.EVENT_TAIL_FIRST
    assert len(list((tb / "exp-restart").iterdir())) == 2
    runs = _runs_json(tmp_path)
    steps = {name.rsplit("/", 1)[-1]: r["last_step"] for name, r in runs.items()}
    assert steps == {"exp-long": 2500, "exp-short": 40, "exp-restart": 950, "exp-text-tail": 500}
    long = runs["tensorboard_log/proj/exp-long"]
    assert [c["step"] for c in long["checkpoints"]] == [1000] and long["kind"] == "GRPO"
    table = subprocess.run([sys.executable, "-m", "rankinv", "runs", str(tmp_path)], capture_output=True, text=True,
                           check=True, timeout=120).stdout  # fmt: skip
    row = next(line for line in table.splitlines() if "exp-long" in line)
    assert [c.strip() for c in row.strip("│").split("│")][3] == "2500"


def _read_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = peek._read

    def counted(path: Path, start: int, size: int) -> bytes:
        data = real(path, start, size)
        sizes.append(len(data))
        return data

    monkeypatch.setattr(peek, "_read", counted)
    return sizes


def test_a_big_event_file_is_read_at_its_end_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "grpo"
    _verl_writes(run, range(1, 12_001))  # about 2.4 MB of scalar events
    (log,) = run.iterdir()
    assert log.stat().st_size > 32 * peek.TAIL_BYTES
    sizes = _read_counted(monkeypatch)
    assert peek.last_logged_step(sources_for_run(run)) == 12_000
    assert sum(sizes) <= peek.EVENT_TAIL_FIRST  # its last 4 KiB: the last scalar event is in them


def test_a_tail_of_large_non_scalar_records_is_read_up_to_the_cap(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalars under 300 KB of text: the look grows until it finds them; under 2 MB it stops at the cap and says
    nothing rather than read on (the step is then unknown, as the README says)."""
    near, far = tmp_path / "near", tmp_path / "far"
    _verl_writes(near, range(1, 2001), text_after=300_000)
    _verl_writes(far, range(1, 2001), text_after=2_000_000)
    sizes = _read_counted(monkeypatch)
    assert peek.last_logged_step(sources_for_run(near)) == 2000
    assert max(sizes) <= peek.EVENT_TAIL_BYTES
    sizes.clear()
    assert peek.last_logged_step(sources_for_run(far)) is None
    assert sum(sizes) <= 2 * peek.EVENT_TAIL_BYTES


def _framed(data: bytes) -> list[tuple[int, bytes]]:
    """The test's own parse of TFRecord framing from the file's start: (offset, payload) of each record."""
    out, at = [], 0
    while at < len(data):
        (length,) = struct.unpack_from("<Q", data, at)
        out.append((at, data[at + 12 : at + 12 + length]))
        at += 12 + length + 4
    assert at == len(data)
    return out


def test_the_records_of_a_window_starting_anywhere_are_the_ones_wholly_inside_it(tmp_path: Path) -> None:
    """Every start offset of a file written by tensorboard's own writer, records of several sizes (scalars, a
    1 KB text): the records found are exactly those that start at or after the window's start."""
    writer = EventFileWriter(str(tmp_path))
    for step in range(1, 40):
        values = [summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / step)]
        if step % 7 == 0:
            values.append(summary_pb2.Summary.Value(tag="note", simple_value=float("nan")))
        event = event_pb2.Event(step=step, wall_time=1.7e9 + step, summary=summary_pb2.Summary(value=values))
        if step % 10 == 0:
            event = event_pb2.Event(step=step, wall_time=1.7e9, file_version="x" * 1000)  # a long record
        writer.add_event(event)
    writer.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    data = path.read_bytes()
    records = _framed(data)
    assert len(records) == 40  # the writer's own file_version record first
    for start in range(len(data)):
        expected = [payload for offset, payload in records if offset >= start]
        assert tail_payloads(data[start:], masked_crc32c) == expected, start
    cut = records[-1][0] + 5  # a last record still being written: the ones before it, not it
    assert tail_payloads(data[records[20][0] : cut], masked_crc32c) == [p for _, p in records[20:-1]]


def test_a_settled_event_head_is_decoded_once_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kind guess decodes an event file's head: its first 64 KiB when they show RL metrics (no later name can
    make the run less GRPO), else its first MiB. Once that is written it cannot change while the file grows, so a
    second look reads no head again; a new file at the same path is read anew."""
    run = tmp_path / "grpo"
    _verl_writes(run, range(1, 6_001))  # past the first MiB
    (log,) = run.iterdir()
    assert log.stat().st_size > peek.EVENT_HEAD_BYTES
    sizes = _read_counted(monkeypatch)
    assert peek.guess_kind(sources_for_run(run)) == "GRPO"  # actor/entropy, critic/score/mean: verl's RL metrics
    first = sum(sizes)
    assert 0 < first <= peek.EVENT_FIRST_BYTES  # the RL metrics are in the first records
    assert peek.guess_kind(sources_for_run(run)) == "GRPO" and sum(sizes) == first  # settled: not read again
    log.unlink()
    _verl_writes(run, range(1, 6_001))  # a new file (new inode) where the old one was
    assert peek.guess_kind(sources_for_run(run)) == "GRPO" and sum(sizes) > first

    sft = tmp_path / "sft"  # SFT metrics only: the whole first MiB is read (an RL metric could come later in it)
    writer = pytest.importorskip("torch.utils.tensorboard").SummaryWriter(str(sft))
    for step in range(1, 30_001):
        writer.add_scalar("train/loss", 1.0 / step, step)
    writer.close()
    (events,) = sft.iterdir()
    assert events.stat().st_size > peek.EVENT_HEAD_BYTES
    before = sum(sizes)
    assert peek.guess_kind(sources_for_run(sft)) == "SFT"
    assert sum(sizes) - before >= peek.EVENT_HEAD_BYTES
    before = sum(sizes)
    assert peek.guess_kind(sources_for_run(sft)) == "SFT" and sum(sizes) == before
