"""The reader for every line-oriented format: tail complete lines, parse each, assign steps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rankinv.ingest import columns
from rankinv.ingest.batch import Points
from rankinv.ingest.columns import Columns
from rankinv.ingest.notes import NOT_JSON, Where, note_key
from rankinv.ingest.tail import START, Offset, lines_framing, tail
from rankinv.ingest.values import Record, points, shape

LineParser = Callable[[str], "Record | None"]
BlockParser = Callable[[bytes], "Iterable[Record | Columns] | Columns"]
"""The records in a block of complete lines, in order: a format may parse a whole block (or runs of its lines) at
once, and give records that all carry their step as columns."""


def each_line(parse: LineParser) -> BlockParser:
    """A block parser that hands ``parse`` each non-blank line (decoded leniently, ``\r\n`` endings removed)."""

    def parse_block(data: bytes) -> Iterable[Record]:
        for line in data.decode("utf-8", errors="replace").split("\n"):
            record = parse(line.rstrip("\r")) if line.strip() else None
            if record is not None:
                yield record

    return parse_block


@dataclass
class _Collect:
    """Consumer that parses fed lines; a record without a step gets one from the count of training records, a
    record whose step cannot be one is skipped and noted (:mod:`rankinv.ingest.notes`)."""

    run: str
    parse: BlockParser
    stride: int
    records: int
    last_step: int | None
    path: Path
    line: LineParser
    base: int = 0  # the byte offset of the block being fed
    data: bytes = b""  # the block being fed

    def __post_init__(self) -> None:
        self.found = Points(self.run)

    def at(self, path: Path, position: int) -> None:
        self.path, self.base = path, position

    def feed(self, data: bytes) -> None:
        self.data = data
        try:
            self.parsed(data)
        finally:
            self.data = b""

    def parsed(self, data: bytes) -> None:
        parsed = self.parse(data)
        if isinstance(parsed, Columns):
            self.add_columns(parsed)
            return
        for record in parsed:
            if isinstance(record, Columns):
                self.add_columns(record)
            else:
                self.add(record)

    def add_columns(self, block: Columns) -> None:
        """What :meth:`add` of each record would do, for records that all carry their step."""
        if not block.steps:
            return
        self.records += columns.training_records(block.shapes)
        self.last_step = block.steps[-1]
        self.found.add_columns(block)

    def restart(self) -> None:
        self.records, self.last_step = 0, None

    def add(self, record: Record) -> None:
        if record.problem is not None and record.problem[0] == NOT_JSON:
            self.refuse(record.problem)  # a line that is no record: not a logging call, so not counted
            return
        known = shape(record)
        role = known[0]
        if role == "train":
            self.records += 1  # a skipped record too: it was a logging call, and step-less records count them
        if record.problem is not None:
            self.refuse(record.problem)
            return
        step = record.step
        if step is None:
            step = self.records * self.stride if role == "train" else (self.last_step or 0)
        self.last_step = step
        self.found.extend(points(self.run, step, record, known))

    def refuse(self, problem: tuple[str, str]) -> None:
        """Note a record skipped for its step; the first of its cause in this read is found again, to say where."""
        known = self.found.notes.get(note_key(self.path, problem[0]))
        self.found.note(problem, known.where if known is not None else self.where(problem[0]))

    def where(self, cause: str) -> Where:
        """The first line of the block being fed whose record is refused for ``cause`` (read again line by line)."""
        offset = 0
        for line in self.data.split(b"\n"):
            record = self.line(line.decode("utf-8", errors="replace").rstrip("\r")) if line.strip() else None
            if record is not None and record.problem is not None and record.problem[0] == cause:
                return Where(self.path, self.base + offset)
            offset += len(line) + 1
        return Where(self.path, record="a record")


class LineReader:
    """Incremental reader of a log whose records are lines that carry their own step (verl console, JSONL)."""

    def __init__(self, path: Path, run: str, fmt: str, parse: LineParser, logging_steps: int = 1, *,
                 parse_block: BlockParser | None = None) -> None:  # fmt: skip
        self.path, self.run, self.fmt, self.parse = path, run, fmt, parse
        self.parse_block = parse_block or each_line(parse)
        self.logging_steps = max(1, logging_steps)

    def read_new(self, offset: Offset | None = None) -> tuple[Points, Offset]:
        offset = offset or START
        collect = _Collect(self.run, self.parse_block, self.logging_steps, offset.records, offset.last_step,
                           self.path, self.parse)  # fmt: skip
        new = tail(self.path, offset, lines_framing, collect)
        n = new  # the offset as ``replace(new, records=..., last_step=...)`` makes it, without its field walk
        return collect.found, Offset(n.position, n.inode, n.head, collect.records, collect.last_step, n.signature,
                                     n.drained, n.progress)  # fmt: skip


CONSOLE_MARKS = (b"{'", b'{"', b"global", b"step:", b"episode [")
"""Found, in the ASCII-lowercased bytes, in every segment :func:`console_parser` can read (a dict, a verl
``step:`` line, an OpenRLHF episode bar with its status) and every printed global step."""


def console_parser() -> LineParser:
    """verl console lines, OpenRLHF step lines, stdout dict lines and JSON lines, whichever each line is."""
    from rankinv.ingest import jsonl, openrlhf_console, pydict, verl_console

    def parse(line: str) -> Record | None:
        if line.lstrip().startswith('{"'):
            return jsonl.parse_line(line) or pydict.parse_line(line)
        return verl_console.parse_line(line) or openrlhf_console.parse_line(line) or pydict.parse_line(line)

    return parse
