"""A complete line of a JSON Lines log that is not a JSON object is skipped and said once per file.

Oracles: the lines each test writes (which are records, on which line the first bad one is, how many there are) and
the bytes appended afterwards; never rankinv's own reading of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rankinv.daemon.pipeline.ingest import Ingestor

from rankinv.ingest import START, open_source
from rankinv.ingest.notes import PROBLEMS
from rankinv.store import Store
from tests.support.pipeline import ingest_runs

NOT_OBJECTS = ["garbage", "[1, 2]", '"text"', "42", '{"step": 5, "logs": {"ent', "}{", "\x1b[2J{\"step\": 1}"]
SHAPES = {
    "callback": '{{"step": {step}, "time": 1.7e9, "logs": {{"loss": {value}}}}}',
    "verl": '{{"step": {step}, "data": {{"actor/entropy": {value}}}}}',
    "flat": '{{"global_step": {step}, "train/loss": {value}}}',
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_lines_that_are_not_objects_are_skipped_and_noted_at_the_first(shape: str, tmp_path: Path) -> None:
    lines, good = [], {}
    for i, junk in enumerate(NOT_OBJECTS):
        lines.append(SHAPES[shape].format(step=i, value=i / 8))
        good[i] = i / 8
        lines.append(junk)
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    found, _ = open_source(path, "r", "jsonl").read_new(START)
    assert {p.step: p.value for p in found} == good
    [note] = found.notes.values()
    assert (note.cause, note.where.describe(), note.count) == ("not JSON", "line 2", len(NOT_OBJECTS))
    message = note.message()
    assert message.startswith(f"metrics.jsonl: line 2: 'garbage' {PROBLEMS['not JSON']}; that line was skipped "
                              f"({len(NOT_OBJECTS) - 1} more such line(s) in this read)")  # fmt: skip
    assert "To fix: write only JSON objects" in message


def test_the_note_never_carries_an_escape_sequence(tmp_path: Path) -> None:
    path = tmp_path / "rankinv.jsonl"
    path.write_text('{"step": 1, "logs": {"loss": 1.0}}\n\x1b]52;c;aGk=\x07 \x1b[2J junk\n')
    found, _ = open_source(path, "r", "jsonl").read_new(START)
    [note] = found.notes.values()
    assert "\x1b" not in note.message() and "\x07" not in note.message() and "\\x1b" in note.message()


def test_step_less_records_keep_their_ordinal_steps_around_a_junk_line(tmp_path: Path) -> None:
    path = tmp_path / "flat.jsonl"  # no step key: the n-th record is step n (a junk line is no logging call)
    path.write_text('{"loss": 1.0}\n{"loss": 2.0}\nnot json\n{"loss": 3.0}\n')
    found, _ = open_source(path, "r", "jsonl").read_new(START)
    assert [(p.step, p.value) for p in found] == [(1, 1.0), (2, 2.0), (3, 3.0)]
    assert [n.where.describe() for n in found.notes.values()] == ["line 3"]


def test_a_line_still_being_written_is_not_noted_and_a_blank_line_never_is(tmp_path: Path) -> None:
    path = tmp_path / "rankinv.jsonl"
    path.write_text('{"step": 1, "logs": {"loss": 1.0}}\n\n   \n{"step": 2, "logs": {"lo')  # no newline yet
    reader = open_source(path, "r", "jsonl")
    found, offset = reader.read_new(START)
    assert [p.step for p in found] == [1] and not found.notes
    with path.open("a") as f:
        f.write('ss": 2.0}}\n')
    found, _ = reader.read_new(offset)
    assert [(p.step, p.value) for p in found] == [(2, 2.0)] and not found.notes


def test_the_daemon_notes_a_file_once_and_keeps_every_run(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad", tmp_path / "good"
    bad.mkdir()
    good.mkdir()
    with (bad / "rankinv.jsonl").open("w") as f:
        f.write('{"step": 1, "logs": {"entropy": 0.9}}\n')
        for i in range(200_000):  # more than one 8 MiB block of junk between records
            f.write(f"print from rank {i % 8}: loss went down\n")
        f.write('{"step": 2, "logs": {"entropy": 0.8}}\n')
    (good / "rankinv.jsonl").write_text("".join(f'{{"step": {s}, "logs": {{"entropy": {s / 7}}}}}\n'
                                                for s in range(1, 21)))  # fmt: skip
    store = Store.open(tmp_path / "store.sqlite")
    try:
        ingestor = ingest_runs(store, {"good": good, "bad": bad})
        with (bad / "rankinv.jsonl").open("a") as f:
            f.write('more junk\n{"step": 3, "logs": {"entropy": 0.7}}\n')
        ingestor.ingest_run("bad", bad)
        Ingestor(store).ingest_run("bad", bad)  # a new process (a one-shot scan) finds the note in the store
        notes = [e for e in store.events(limit=1000) if e.kind == "ingest"]
        assert [(e.run, e.level, e.message.split(";")[0]) for e in notes] == [
            ("bad", "warning", f"rankinv.jsonl: line 2: 'print from rank 0: loss went down' {PROBLEMS['not JSON']}")]
        assert store.series("bad")["entropy"].steps == (1, 2, 3)
        assert store.series("good")["entropy"].values == tuple(s / 7 for s in range(1, 21))
    finally:
        store.close()
