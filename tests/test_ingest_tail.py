"""The incremental tail: only complete records, each exactly once, whatever happens to the file between reads."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankinv.errors import RankinvError
from rankinv.ingest import Offset, open_source
from rankinv.ingest.kept import KeptFiles, keeping
from rankinv.ingest.tail import offset_at_end

LINE_FORMATS = {
    "jsonl": lambda i: json.dumps({"step": i, "x": i + 0.5}),
    "pydict": lambda i: str({"step": i, "x": f"{i + 0.5}"}),
    "verl_console": lambda i: f"(TaskRunner pid=7) step:{i} - x:np.float64({i + 0.5})",
}


@pytest.fixture(autouse=True, params=["by path", "kept open"])
def reads(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test twice: each read through the path, and the daemon's way (the log kept open between reads)."""
    if request.param == "by path":
        yield
        return
    kept = KeptFiles()
    with keeping(kept):
        yield
    kept.close_all()


def steps(found: list) -> list[int]:  # type: ignore[type-arg]
    return [p.step for p in found if p.name == "x"]


def test_half_written_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text('{"step": 1, "x": 1.5}\n{"step": 2, "x": 2.')
    reader = open_source(log, "r")
    found, offset = reader.read_new(None)
    assert steps(found) == [1]
    with log.open("a") as f:
        f.write("5}\n")
    found, offset = reader.read_new(offset)
    assert [(p.step, p.value) for p in found] == [(2, 2.5)]
    assert reader.read_new(offset)[0] == []


def test_crlf_invalid_utf8_nan_inf_none_and_garbage(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_bytes(
        b"{'step': 1, 'x': 1.5}\r\n"
        b"\xff\xfe\x00garbage\x00\x89PNG\r\n"
        b"{'step': 2, 'x': nan, 'y': inf, 'z': None, 'note': 'caf\xc3\xa9'}\n"
        b"{'step': 3, 'x': '-inf', 'w': '\xe9\xe9'}\n"
        b"\x00\x01\x02\n"
        b"{'step': 4, 'x': 4.5}\n"
    )
    found, _ = open_source(log, "r", "pydict").read_new(None)
    by = {(p.step, p.name): p.value for p in found}
    assert by[(1, "x")] == 1.5 and by[(4, "x")] == 4.5
    assert math.isnan(by[(2, "x")]) and by[(2, "y")] == math.inf and by[(3, "x")] == -math.inf
    assert (2, "z") not in by and (2, "note") not in by  # None and text are skipped, the record is kept
    assert steps(found) == [1, 2, 3, 4]


def test_one_megabyte_line_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "big.jsonl"
    big = {"step": 1, "x": 1.5, "blob": "a" * (1 << 20)}
    log.write_text(json.dumps(big) + "\n" + json.dumps({"step": 2, "x": 2.5}) + "\n")
    found, _ = open_source(log, "r").read_new(None)
    assert steps(found) == [1, 2]


def test_truncation_restarts_without_duplicates(tmp_path: Path) -> None:
    log = tmp_path / "t.jsonl"
    log.write_text("".join(LINE_FORMATS["jsonl"](i) + "\n" for i in (1, 2, 3)))
    reader = open_source(log, "r")
    found, offset = reader.read_new(None)
    assert steps(found) == [1, 2, 3]
    log.write_text(LINE_FORMATS["jsonl"](10) + "\n")  # truncated and rewritten, shorter
    found, offset = reader.read_new(offset)
    assert steps(found) == [10]
    log.write_text("".join(LINE_FORMATS["jsonl"](i) + "\n" for i in (20, 21, 22, 23)))  # rewritten, longer
    found, _ = reader.read_new(offset)
    assert steps(found) == [20, 21, 22, 23]


@pytest.mark.parametrize("how", ["rename", "copytruncate"])
def test_rotation_drains_the_old_content_first(tmp_path: Path, how: str) -> None:
    log = tmp_path / "train.log"
    log.write_text("step:1 - x:1.5\n")
    reader = open_source(log, "r", "verl_console")
    _, offset = reader.read_new(None)
    with log.open("a") as f:
        f.write("step:2 - x:2.5\n")
    if how == "rename":
        log.rename(tmp_path / "train.log.1")
    else:
        shutil.copy(log, tmp_path / "train.log.1")
    log.write_text("step:3 - x:3.5\n")  # a new file, or the same one truncated and written again
    found, _ = reader.read_new(offset)
    assert steps(found) == [2, 3]


def test_offsets_resume_in_a_new_reader(tmp_path: Path) -> None:
    log = tmp_path / "r.jsonl"
    log.write_text(LINE_FORMATS["jsonl"](1) + "\n")
    _, offset = open_source(log, "r").read_new(None)
    stored = offset.to_json()
    with log.open("a") as f:
        f.write(LINE_FORMATS["jsonl"](2) + "\n")
    found, _ = open_source(log, "r").read_new(Offset.from_json(stored))
    assert steps(found) == [2]
    with pytest.raises(RankinvError, match="unexpected fields"):
        Offset.from_json('{"pos": 3}')
    with pytest.raises(RankinvError, match="not JSON"):
        Offset.from_json("{oops")


def test_offset_at_end_skips_history(tmp_path: Path) -> None:
    log = tmp_path / "h.jsonl"
    log.write_text("".join(LINE_FORMATS["jsonl"](i) + "\n" for i in range(100)))
    offset = offset_at_end(log)
    with log.open("a") as f:
        f.write(LINE_FORMATS["jsonl"](100) + "\n")
    assert steps(open_source(log, "r").read_new(offset)[0]) == [100]


def test_stdout_steps_count_logging_calls(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_text("{'loss': '0.5'}\n{'eval_loss': '0.4'}\n{'loss': '0.3'}\n")
    found, offset = open_source(log, "r", logging_steps=5).read_new(None)
    assert [(p.step, p.name) for p in found] == [(5, "loss"), (5, "eval/loss"), (10, "loss")]
    assert offset.records == 2


# --- property: any interleaving of partial writes, polls, garbage and rotation ---------------------------------

OPS = st.one_of(
    st.tuples(st.just("write"), st.integers(1, 40)),
    st.tuples(st.just("poll"), st.booleans()),
    st.tuples(st.just("garbage"), st.binary(min_size=0, max_size=30)),
    st.tuples(st.just("truncate")),
    st.tuples(st.just("rename")),
    st.tuples(st.just("copytruncate")),
)


@dataclass
class World:
    """A writer producing numbered records in chunks, a reader polling, and the log's fate in between."""

    dir: Path
    fmt: str
    pending: bytes = b""
    next_id: int = 0
    written: list[int] = field(default_factory=list)  # records whose newline reached the file, in order
    lost: set[int] = field(default_factory=set)  # complete records destroyed by truncation before any poll
    unpolled: list[int] = field(default_factory=list)
    rotated_since_poll: bool = False
    generation: int = 0
    got: list[int] = field(default_factory=list)
    offset: Offset | None = None

    @property
    def log(self) -> Path:
        return self.dir / "train.log"

    def append(self, data: bytes) -> None:
        with self.log.open("ab") as f:
            f.write(data)

    def write(self, n: int) -> None:
        if not self.pending:
            self.pending = (LINE_FORMATS[self.fmt](self.next_id) + "\n").encode()
            self.next_id += 1
        chunk, self.pending = self.pending[:n], self.pending[n:]
        self.append(chunk)
        if not self.pending:
            self.written.append(self.next_id - 1)
            self.unpolled.append(self.next_id - 1)

    def poll(self, via_json: bool) -> None:
        offset = Offset.from_json(self.offset.to_json()) if via_json and self.offset else self.offset
        found, self.offset = open_source(self.log, "r", self.fmt).read_new(offset)
        self.got.extend(steps(found))
        self.unpolled, self.rotated_since_poll = [], False

    def rotate(self, how: str) -> None:
        """At a record boundary, at most once between polls (the documented limit)."""
        if self.pending or self.rotated_since_poll:
            return
        self.rotated_since_poll = True
        self.generation += 1
        old = self.dir / f"train.log.{self.generation}"
        read_nothing_yet = self.offset is None or self.offset.position == 0
        if how == "truncate" or (how == "copytruncate" and read_nothing_yet):
            # Documented limit: a copy-truncated log that was still empty at the last read looks unchanged.
            self.lost.update(self.unpolled)
        elif how == "rename":
            self.log.rename(old)
        else:
            shutil.copy(self.log, old)
            os.utime(old, ns=(self.generation * 10**9, self.generation * 10**9))
        with self.log.open("wb"):
            pass


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(sorted(LINE_FORMATS)), ops=st.lists(OPS, max_size=40))
def test_any_interleaving_yields_each_complete_record_once(tmp_path_factory: pytest.TempPathFactory, fmt: str,
                                                          ops: list[tuple]) -> None:  # type: ignore[type-arg]
    world = World(tmp_path_factory.mktemp("tail"), fmt)
    world.log.write_bytes(b"")
    world.poll(False)  # the reader knows the log from its creation
    for op in ops:
        if op[0] == "write":
            world.write(op[1])
        elif op[0] == "poll":
            world.poll(op[1])
        elif op[0] == "garbage" and not world.pending:
            world.append(b"\xff" + op[1].replace(b"\n", b"") + b"\n")
        elif op[0] in ("truncate", "rename", "copytruncate"):
            world.rotate(op[0])
    world.poll(True)
    assert world.got == [i for i in world.written if i not in world.lost]


def test_a_drained_rotated_file_is_not_taken_for_a_copy_after_truncation(tmp_path: Path) -> None:
    """Found by the property test: garbage, a record, rename, garbage, poll, truncate. The renamed file starts with
    the same bytes as the new one, so without remembering it was drained it looked like a copytruncate copy."""
    world = World(tmp_path, "jsonl")
    world.log.write_bytes(b"")
    world.poll(False)
    world.append(b"\xff\n")
    world.write(10_000)
    world.rotate("rename")
    world.append(b"\xff\n")
    world.poll(False)
    world.rotate("truncate")
    world.poll(True)
    assert world.got == [0]


def test_copytruncate_rewritten_with_the_same_first_bytes_is_still_seen(tmp_path: Path) -> None:
    """Found by the property test: everything read so far was one garbage line; after copytruncate the new log
    starts with the same line, so the fingerprint matched and the record in the copy was lost."""
    world = World(tmp_path, "jsonl")
    world.log.write_bytes(b"")
    world.poll(False)
    world.append(b"\xff\n")
    world.write(1)
    world.poll(False)
    world.write(10_000)
    world.rotate("copytruncate")
    world.append(b"\xff\n")
    world.poll(True)
    assert world.got == [0]


def test_rotated_generations_are_drained_once(tmp_path: Path) -> None:
    world = World(tmp_path, "jsonl")
    world.log.write_bytes(b"")
    world.poll(False)
    world.write(10_000)
    world.rotate("rename")
    world.poll(False)
    world.rotate("rename")
    world.poll(True)
    assert world.got == [0]


def _replay(world: World, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    for op in ops:
        if op[0] == "write":
            world.write(op[1])
        elif op[0] == "poll":
            world.poll(op[1])
        elif op[0] == "garbage":
            world.append(b"\xff" + op[1] + b"\n")
        else:
            world.rotate(op[0])


@pytest.mark.parametrize("regrowth", [22, 23, 60])
def test_a_small_log_copy_truncated_and_regrown_to_or_past_its_copy_loses_nothing(tmp_path: Path,
                                                                                   regrowth: int) -> None:
    world = World(tmp_path, "jsonl")
    world.log.write_bytes(b"")
    world.poll(False)
    _replay(world, [("garbage", b""), ("write", 4), ("poll", False), ("write", 18), ("copytruncate",),
                    ("garbage", b""), ("write", regrowth)])
    world.poll(True)
    assert world.got == world.written == list(range(len(world.written)))


def test_a_plain_copy_of_a_growing_small_log_is_not_taken_for_a_rotation(tmp_path: Path) -> None:
    world = World(tmp_path, "jsonl")
    world.log.write_bytes(b"")
    world.poll(False)
    _replay(world, [("write", 100), ("poll", False), ("write", 100)])
    shutil.copy(world.log, tmp_path / "train.log.1")
    _replay(world, [("write", 100), ("write", 100), ("poll", False)])
    assert world.got == world.written == [0, 1, 2, 3]
