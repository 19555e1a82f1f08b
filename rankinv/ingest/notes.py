"""What a reader could not read as the log said, told once per cause: a record whose step cannot be a step, and a
line of a JSON Lines log that is not a JSON object.

A log's step is a whole number from 0 to 2^63-1 (SQLite's INTEGER). A record whose step is anything else — negative,
a fraction (``3.5``), NaN or infinite, a boolean or text, beyond 2^63-1 — is skipped: placed at its ordinal
position, or truncated to a nearby whole number, it would land at a step it was not logged at and replace the value
logged there (the store keeps one value per run, metric and step). The reader counts such records in the read's
:class:`~rankinv.ingest.batch.Points` by cause, keeping where the first one was; the daemon's ingestor turns each
cause into one warning per file in the event feed, as it does a log's other notes (``rankinv status --json``, the
TUI's feed). A file of a million bad lines is one note per cause, not a million.

A JSON Lines log (the callback's, verl's file logger, a flat one) holds one JSON object a line; a complete line that
is not one (a stray ``print`` into the file, a record cut short by a crash and followed by the next) is skipped the
same way, and noted once per file (:data:`NOT_JSON`). A last line still being written is never read, so never noted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rankinv.boundary.files import open_regular

PROBLEMS = {
    "negative": "is negative",
    "fractional": "is not a whole number",
    "not finite": "is NaN or infinite",
    "not a number": "is not a number",
    "too large": "is beyond 2^63-1, the largest step SQLite stores",
    "not JSON": "is not a JSON object",
}
"""Each cause a step is refused for, as the note words it."""
ADVICE = {
    "negative": "log the trainer's global step (0 or more)",
    "fractional": "log the global step as a whole number (an epoch fraction belongs in 'epoch')",
    "not finite": "log the global step as a finite whole number",
    "not a number": "log the step as a number, not text or true/false",
    "too large": "log the trainer's global step, not a timestamp in nanoseconds or an id",
    "not JSON": "write only JSON objects to this file, one a line (look for another process or a print writing to "
                "it; a line cut short by a crash is lost)",
}
NOT_JSON = "not JSON"
"""The cause of a line that is not a JSON object: a line, not a step, was refused (and it is not a logging call)."""
COUNT_BYTES = 1 << 20


@dataclass(frozen=True)
class Where:
    """Where a record is: a byte offset in a text log (its line is counted only when a note is written), else a
    description of the record (``log_history[3]``, ``an event of tag 'loss'``)."""

    path: Path
    byte: int | None = None
    record: str = ""

    def describe(self) -> str:
        if self.byte is None:
            return self.record or "a record"
        line = line_at(self.path, self.byte)
        return f"line {line}" if line is not None else f"the line at byte {self.byte}"


def note_key(path: Path, cause: str) -> str:
    """What makes two notes the same note: the file and the cause (:attr:`StepNote.key`)."""
    return f"{path}\0step:{cause}"


@dataclass
class StepNote:
    """The records of one read whose step was refused for one cause: how many, and the first."""

    cause: str
    value: str  # the first one's step, as the log wrote it (repr, cut short)
    where: Where
    count: int = 1

    @property
    def key(self) -> str:
        """What makes two notes the same note: the file and the cause."""
        return note_key(self.where.path, self.cause)

    @property
    def cause_text(self) -> str:
        return PROBLEMS[self.cause]

    def message(self) -> str:
        what, subject = ("line", f"{self.value}") if self.cause == NOT_JSON else ("record", f"step {self.value}")
        more = f" ({self.count - 1} more such {what}(s) in this read)" if self.count > 1 else ""
        return (f"{self.where.path.name}: {self.where.describe()}: {subject} {PROBLEMS[self.cause]}; that "
                f"{what} was skipped{more}, its values not stored, and the rest of the log is read as usual. To "
                f"fix: {ADVICE[self.cause]}")  # fmt: skip


def shown_value(value: object) -> str:
    """A step as the note shows it: numeric text as written (``-1`` from ``step:-1``), a whole float as the whole
    number it is (``-1.0`` is how a decoder reading every number as a float gives ``-1``), anything else as its repr
    (quotes and control characters escaped); at most 40 characters."""
    if type(value) is float and value.is_integer() and abs(value) <= 2**53:
        return str(int(value))
    stripped = value.strip() if isinstance(value, str) else None
    plain = stripped is not None and stripped.isascii() and stripped.isprintable() and _numeric(stripped)
    text = stripped if plain and stripped is not None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _numeric(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def line_at(path: Path, byte: int) -> int | None:
    """The 1-based number of the line holding ``byte`` (newlines before it, counted in 1 MiB reads), or None when
    the file cannot be read or no longer reaches that far."""
    try:
        with open_regular(path) as f:
            newlines, left = 0, byte
            while left > 0:
                chunk = f.read(min(COUNT_BYTES, left))
                if not chunk:
                    return None
                newlines += chunk.count(b"\n")
                left -= len(chunk)
    except OSError:
        return None
    return newlines + 1
