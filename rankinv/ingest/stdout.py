"""A trainer's stdout (``slurm-%j.out``, ``train.log``): each record at the step the trainer printed for it.

A stdout dict line carries no step, so the step comes from what was printed around it, best evidence first:

1. the step in the record itself (verl's ``step:N``, a JSON ``"step"``, OpenRLHF's ``Global step N``);
2. the progress bar redrawn right after the dict: transformers writes a log dict with ``tqdm.write``, which
   clears the bars, prints the dict and redraws them at once — so the training bar's ``i/N`` on the segment
   just after the dict is the step it was logged at (the bar drawn *before* it is throttled to one redraw per
   0.1 s and can lag on fast steps). A dict with nothing after it yet is held back until the next segment comes;
3. when bars placed earlier records but none follows this one (the job was stopped, or a line came between),
   the previous step plus the interval those records showed, never below the bar's counter;
4. the training bar's counter, or a printed ``Global step N``, seen since the previous record;
5. otherwise the previous record's step plus the logging interval (``logging_steps`` from the manifest or
   ``trainer_state.json``; ``--logging-steps`` for a lone file).

Eval dicts sit at the step they were made (they do not advance the count); the end-of-training summary
(``train_runtime``) is not a step; a record identical to the one before it with no progress in between (several
ranks printing the same line) is read once. The training bar is told from eval and loading bars by its total.

tqdm redraws are most of a large stdout's bytes. Only segments that may hold a record or a printed global step
(found by a regular expression over the whole block) are read one by one; of each stretch of redraws between
them only the segment after a waiting record and the last training bar are looked at (:meth:`_Collect.skim`),
which leaves the reader in the state reading every redraw would.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import compress
from operator import attrgetter, eq
from pathlib import Path

from rankinv.ingest.batch import Points
from rankinv.ingest.columns import Columns
from rankinv.ingest.lines import LineParser
from rankinv.ingest.notes import Where, note_key
from rankinv.ingest.tail import START, Offset, tail
from rankinv.ingest.values import Record, Shape, points, shape

_BAR = re.compile(r"(?<![\d.])(?P<n>\d+)/(?P<total>\d+) \[\d+:\d", re.ASCII)  # tqdm prints ASCII digits
_PLAIN_BAR = re.compile(r"^\W*\d+%\|")  # no description before the percentage, as the Trainer's bar
_ANY_PLAIN_BAR = re.compile(r"(?:^|[\r\n])[^\w\r\n]*\d+%\|[^\r\n]*?\d+/\d+ \[\d+:\d")
_GLOBAL_STEP = re.compile(r"\bglobal[ _]step[ :=]+(?P<n>\d+)\b", re.IGNORECASE)
_SEGMENTS = re.compile(rb"[^\r\n]*(?:\r|\n)")
_GLOBAL_STEP_BYTES = re.compile(_GLOBAL_STEP.pattern.encode(), re.IGNORECASE)  # on ASCII text, as _GLOBAL_STEP
"""Looked for only where the lowercased text holds ``global``: a case-blind pattern has no literal to skip to, so
the regex would try every byte (3 ms per MB of a verl log's ``(TaskRunner pid=…)`` prefixes)."""
BlockSplitter = Callable[[bytes], "tuple[Columns, bytes] | None"]
_SEGMENT_END = re.compile(rb"[\r\n]")
MARKS = (b"{'", b'{"', b"global")
"""One of these is found, in the ASCII-lowercased block, in every segment a stdout dict parser or
:data:`_GLOBAL_STEP` can match (``global`` in any case: it has no non-ASCII case variants)."""
_DICT_HINT = re.compile(r"\{['\"]")
NONE = -1
_SUMMARY, _TRAIN = attrgetter("summary"), attrgetter("train")


@dataclass
class _Progress:
    """What the reader knows about the bars between records (kept in :attr:`Offset.progress`)."""

    train_total: int = NONE  # the training bar's total, once a record told us which bar it is
    counter: int = NONE  # last training-bar counter or printed global step
    fresh: bool = False  # seen since the last record
    bars: bool = False  # this log draws a training progress bar: a trailing dict waits for its redraw
    interval: int = NONE  # steps between the last two records placed by their redraw: the log's own interval

    def encode(self) -> tuple[int, ...]:
        return (self.train_total, self.counter, int(self.fresh), int(self.bars), self.interval)

    @classmethod
    def decode(cls, raw: tuple[int, ...]) -> _Progress:
        return cls(raw[0], raw[1], bool(raw[2]), bool(raw[3]), raw[4]) if len(raw) == 5 else cls()


def bar_counter(segment: str) -> tuple[int, int, bool] | None:
    """(counter, total, plain) of a tqdm bar segment, or None; ``plain``: no description, as the Trainer's."""
    match = _BAR.search(segment) if " [" in segment else None
    return (int(match["n"]), int(match["total"]), bool(_PLAIN_BAR.match(segment))) if match else None


@dataclass
class _Collect:
    run: str
    parse: LineParser
    stride: int
    records: int
    last_step: int | None
    progress: _Progress
    digest: str  # of the last record, or "" (see last_digest)
    marks: tuple[bytes, ...] | None = None  # None: read every segment
    block: BlockSplitter | None = None  # reads a block of records that all carry their step at once
    last: Record | None = None  # the last record, while its digest is not computed yet
    pending: Record | None = None
    path: Path | None = None  # the file being fed, and the byte offset of the segment being read (for notes)
    base: int = 0
    byte: int = 0

    def __post_init__(self) -> None:
        self.found = Points(self.run)

    def at(self, path: Path, position: int) -> None:
        self.path, self.base = path, position

    def feed(self, data: bytes) -> None:
        if self.block is not None and self.pending is None and self.whole_block(data):
            return
        if self.marks is None:
            self.byte = self.base
            for raw in _SEGMENTS.findall(data):
                self.segment(_text(raw))
                self.byte += len(raw)
            return
        pos = 0
        for at in _marked(data.lower(), self.marks):
            if at < pos:
                continue  # a second mark in the segment just read
            end = _segment_end(data, at)
            if end < 0:
                break  # an unterminated tail is never fed (framing), and never read
            start = _last_break(data, pos, at) + 1 or pos
            self.stretch(data, pos, start)
            self.byte = self.base + start
            self.segment(_text(data[start:end]))
            pos = end
        self.stretch(data, pos, len(data))

    def whole_block(self, data: bytes) -> bool:
        """Read a block of step lines (verl's) at once, when nothing else in it is step evidence: no dict, bar or
        printed global step outside them, no record repeated. Leaves the state reading each segment would."""
        if b"{" in data or b"[" in data:
            return False
        found = self.block(data) if self.block is not None else None
        if found is None or (b"global" in found[1].lower() and _GLOBAL_STEP_BYTES.search(found[1])):
            return False
        block = found[0]
        if any(map(_SUMMARY, block.shapes)) or any(map(eq, block.rows[1:], block.rows[:-1])):
            return False  # an end-of-training summary, or a line printed again by another rank: segment by segment
        first = Record(block.steps[0], None, block.rows[0])
        if not self.progress.fresh and self.repeats_last(first):
            return False
        trained = list(compress(block.steps, map(_TRAIN, block.shapes)))
        if trained:
            self.records += len(trained)
            self.last_step, self.progress.fresh = trained[-1], False
        self.last = Record(block.steps[-1], None, block.rows[-1])
        self.found.add_columns(block)
        return True

    def stretch(self, data: bytes, start: int, end: int) -> None:
        """Segments holding no record and no global step: the first one settles a waiting record, then skim."""
        if self.pending is not None:
            for raw in _SEGMENTS.finditer(data, start, end):
                start = raw.end()
                text = _text(raw[0])
                self.byte = self.base + raw.start()
                if text.strip():
                    self.segment(text)
                    break
        if start < end:
            self.skim(data, start, end)

    def skim(self, data: bytes, start: int, end: int) -> None:
        """What :meth:`on_bar` on every segment would leave: the bars flag, and the last training bar's counter.

        Nothing in the stretch changes which bar counts as training (the known total, the last step), so the last
        bar that counts, looked for from the end, is the one every redraw in turn would have left.
        """
        if not self.progress.bars and _BAR.search(_text(data[start:end])):
            self.progress.bars = any(bar is not None and self.marks_bars(*bar[1:]) for bar in
                                     map(bar_counter, map(_text, _SEGMENTS.findall(data, start, end))))  # fmt: skip
        known = self.progress.train_total
        needle = f"/{known} [".encode() if known != NONE else None  # the training bar's total, once known
        cut = end
        while cut > start:
            at = cut - 1 if needle is None else data.rfind(needle, start, cut)
            if at < 0:
                return  # no bar with the training total left in the stretch
            begin = _last_break(data, start, at) + 1 or start
            stop = _SEGMENT_END.search(data, at, cut)
            text = _text(data[begin : stop.end() if stop else cut])
            bar = bar_counter(text) if text.strip() else None
            if bar is not None and self.is_training(*bar):
                self.progress.counter, self.progress.fresh = bar[0], True
                return
            cut = begin

    def restart(self) -> None:
        self.records, self.last_step, self.progress, self.digest, self.last = 0, None, _Progress(), "", None

    def segment(self, text: str) -> None:
        if not text.strip():
            return
        bar = bar_counter(text)
        # a bar's postfix (OpenRLHF <= 0.8), or a step line printed right after a bar, may be a record with its step
        record = self.parse(text) if bar is None or "=" in text or "{" in text else None
        if record is not None and record.problem is not None:
            self.refuse(record.problem)
            record = None  # read on as a line without a record
        if bar is not None and (record is None or record.step is None):
            self.on_bar(*bar)
            return
        if record is not None and self.pending is not None and self.repeats_last(record):
            return  # another rank printed the record still waiting for its bar
        if self.pending is not None:
            self.resolve(None)
        if record is not None:
            self.on_record(record)
            return
        match = _GLOBAL_STEP.search(text)
        if match:
            self.progress.counter, self.progress.fresh = int(match["n"]), True

    def refuse(self, problem: tuple[str, str]) -> None:
        """Note a record skipped because its step cannot be one (the first of its cause: where it is)."""
        path = self.path or Path("?")
        known = self.found.notes.get(note_key(path, problem[0]))
        self.found.note(problem, known.where if known is not None else Where(path, self.byte))

    def is_training(self, n: int, total: int, plain: bool) -> bool:
        """Is this the training bar (not an eval or loading bar)?"""
        known = self.progress.train_total
        training = total == known or (known == NONE and plain)
        return training and not (self.last_step is not None and n < self.last_step)  # steps never go back

    def marks_bars(self, total: int, plain: bool) -> bool:
        """Does this bar show the log draws a training bar? ("Loading weights: …" bars say nothing of training)"""
        return plain or total == self.progress.train_total

    def on_bar(self, n: int, total: int, plain: bool) -> None:
        if self.marks_bars(total, plain):
            self.progress.bars = True
        training = self.is_training(n, total, plain)
        if self.pending is not None:
            if training:
                self.resolve(n, total)
                return
            self.resolve(None)
        if training:
            self.progress.counter, self.progress.fresh = n, True

    def on_record(self, record: Record) -> None:
        if record.role == "summary":
            self.progress.train_total = NONE  # a later train() (a resumed run) draws a new bar
            return
        if not self.progress.fresh and self.repeats_last(record):
            return  # the same line printed again by another rank
        self.last = record
        if record.step is not None:
            self.emit(record, record.step)
        elif self.progress.bars:
            self.pending = record
        else:
            self.resolve(None, record=record)

    def resolve(self, counter: int | None, total: int | None = None, *, record: Record | None = None) -> None:
        """Give the pending (or given) record its step: the redraw after it, else the evidence before it."""
        record = record or self.pending
        self.pending = None
        assert record is not None
        known = shape(record)
        train = known[0] == "train"
        if counter is not None and total is not None and train:
            self.progress.train_total = total
        before = self.progress.counter if self.progress.fresh else None
        if counter is not None:
            step = counter
            if train and self.last_step is not None and counter > self.last_step:
                self.progress.interval = counter - self.last_step
        elif train and self.last_step is not None and self.progress.interval != NONE:
            # no redraw after it (the job was stopped, or another line came first): the bar before it may lag,
            # so the log's own interval places it, never below the counter seen
            step = max(self.last_step + self.progress.interval, before or 0)
        elif train and before is not None and (self.last_step is None or before > self.last_step):
            step = before
        elif train:
            step = (self.last_step or 0) + self.stride
        else:
            step = self.last_step or 0
        self.emit(record, step, known)

    def emit(self, record: Record, step: int, known: Shape | None = None) -> None:
        """Add the record's points at ``step``; ``known``: its :func:`~rankinv.ingest.values.shape`, if made."""
        known = known or shape(record)
        if known[0] == "train":
            self.records += 1
            self.progress.fresh = False
            self.last_step = step
        self.found.extend(points(self.run, step, record, known))

    def repeats_last(self, record: Record) -> bool:
        """Is ``record`` the last record again (the same digest)? Told by comparing values where they differ."""
        if self.last is not None and not _may_repeat(record.values, self.last.values):
            return False
        return _digest(record) == self.last_digest()

    def last_digest(self) -> str:
        """The last record's digest, computed only when asked (a comparison, or the offset at the end)."""
        if self.last is not None:
            self.digest, self.last = _digest(self.last), None
        return self.digest

    def held_back(self, data: bytes) -> int:
        """Framing: complete segments, except a trailing record still waiting for the bar redrawn after it."""
        end = _last_break(data, 0, len(data)) + 1
        if not (self.progress.bars or _draws_plain_bar(data, end)):
            return end  # no training bar in this log (disable_tqdm): nothing to wait for
        cut = end
        while cut > 0:
            start = _last_break(data, 0, cut - 1) + 1
            text = data[start:cut].decode("utf-8", errors="replace").rstrip("\r\n")
            if not text.strip():
                cut = start
                continue
            if _DICT_HINT.search(text) and bar_counter(text) is None:
                record = self.parse(text)
                waiting = record is not None and record.step is None and record.problem is None
                if waiting and record is not None and record.role != "summary":
                    return start
            return end
        return end


def _marked(data: bytes, needles: tuple[bytes, ...]) -> Iterator[int]:
    """Where any of ``needles`` occurs in ``data``, in order (``bytes.find``: no Python work between them). A needle
    not found again is dropped; once one is left, it is followed alone."""
    live = [(at, n) for n in needles if (at := data.find(n)) >= 0]
    while len(live) > 1:
        here = min(live)[0]
        yield here
        live = [(data.find(n, here + 1) if at == here else at, n) for at, n in live]
        live = [(at, n) for at, n in live if at >= 0]
    if live:
        here, needle = live[0]
        while here >= 0:
            yield here
            here = data.find(needle, here + 1)


def _draws_plain_bar(data: bytes, end: int) -> bool:
    """Does ``data[:end]`` hold a bar without a description (the Trainer's)? ``%`` is looked for first: one byte is
    found much faster than ``%|``, which a log without bars (verl's) would be searched through for."""
    if b"%" not in data or b"%|" not in data:
        return False
    return _ANY_PLAIN_BAR.search(data[:end].decode("utf-8", "replace")) is not None


def _last_break(data: bytes, start: int, end: int) -> int:
    """The last CR or LF in ``data[start:end]`` (-1: none); the CR is looked for only after the last LF, so a log
    without CRs is not scanned back to ``start`` for one."""
    newline = data.rfind(b"\n", start, end)
    return max(newline, data.rfind(b"\r", newline + 1 if newline >= 0 else start, end))


def _segment_end(data: bytes, at: int) -> int:
    """Just past the CR or LF that ends the segment holding ``at``, or -1 (two bounded ``bytes.find``, no regex)."""
    newline = data.find(b"\n", at)
    stop = newline if newline >= 0 else len(data)
    cr = data.find(b"\r", at, stop)
    end = cr if cr >= 0 else newline
    return end + 1 if end >= 0 else -1


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _may_repeat(new: Mapping[str, float], last: Mapping[str, float]) -> bool:
    """False only when the digests must differ: other keys, or other values none of which is NaN (values with the
    same repr are equal unless NaN)."""
    if new.keys() != last.keys():
        return False
    return new == last or any(map(math.isnan, new.values()))


def _digest(record: Record) -> str:
    return hashlib.sha1(repr(sorted(record.values.items())).encode()).hexdigest()[:16]


class StdoutReader:
    """Incremental reader of a trainer's stdout or a mixed console log (stdout dicts and verl lines)."""

    def __init__(self, path: Path, run: str, fmt: str, parse: LineParser, logging_steps: int = 1, *,
                 marks: tuple[bytes, ...] | None = None, block: BlockSplitter | None = None) -> None:  # fmt: skip
        """``marks``: found (in the ASCII-lowercased bytes) in every segment ``parse`` can read a record from (see
        :data:`MARKS`), so the segments between them are skimmed; None reads every segment. ``block``: reads a
        block whose records all carry their step (:func:`rankinv.ingest.verl_console.split_block`)."""
        self.path, self.run, self.fmt, self.parse, self.marks, self.block = path, run, fmt, parse, marks, block
        self.logging_steps = max(1, logging_steps)

    def read_new(self, offset: Offset | None = None) -> tuple[Points, Offset]:
        offset = offset or START
        collect = _Collect(self.run, self.parse, self.logging_steps, offset.records, offset.last_step,
                           _Progress.decode(offset.progress), offset.signature, self.marks, self.block,
                           path=self.path)  # fmt: skip
        new = tail(self.path, offset, collect.held_back, collect)
        if collect.pending is not None:  # cannot happen: framing holds a trailing record back
            collect.resolve(None)
        return collect.found, replace(
            new, records=collect.records, last_step=collect.last_step, progress=collect.progress.encode(),
            signature=collect.last_digest(),
        )  # fmt: skip
