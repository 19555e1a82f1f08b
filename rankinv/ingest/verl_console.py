"""verl console lines: ``step:12 - actor/entropy:np.float64(0.53) - critic/score/mean:0.25``.

verl's console logger joins ``key:value`` pairs with `` - ``; values are ``pprint`` reprs (``np.float64(x)`` under
NumPy 2, plain numbers before), and Ray prefixes worker output with ``(TaskRunner pid=1234)``.

Fast paths, each giving exactly the record the pair-by-pair reading (:func:`_general`) gives (tests compare):

- a block of usual lines (ASCII, no ``\r``; one colon per pair, keys without quotes, backslashes, parentheses,
  braces or surrounding spaces, every value a JSON number, plain or in ``np.float64(…)``) is rewritten, in pieces
  cut at line ends, by four ``bytes.replace``/``translate`` passes into one JSON array of objects and decoded by
  msgspec straight into floats (:func:`_block`);
- a usual line on its own the same way (:func:`_pairs`), as a console log mixing formats reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import cast

import msgspec

from rankinv.ingest import columns
from rankinv.ingest.columns import Columns
from rankinv.ingest.values import Record, record_from_mapping

_STEP = re.compile(r"(?<![^\s)\]])step:(?P<step>-?\d+(?:\.\d*)?)(?P<rest>(?: - [^\n]*)?)$")
"""A ``step:N`` at the start or after a space or bracket, its pairs to the end of the segment (which holds no CR).
A negative or fractional N (``step:-1``, ``step:3.5``) is matched too, for its record to be refused with a note."""
_ODD_STEP = re.compile(rb"(?<![^\s\x1c-\x1f)\]])step:(?:-[0-9]|[0-9]+\.)")
"""A step line :data:`_STEP_LINES` leaves in the other text that :data:`_STEP` reads (and refuses): line by line."""
_WRAPPED = re.compile(r"^(?:np\.|numpy\.)?\w*\((?P<v>[^()]*)\)$")
_NP = "np.float64("
_STEP_LINES = re.compile(rb"step:(?<![^\s\x1c-\x1f)\]]step:)([0-9]+)(?: - ([^\n]*))?$", re.MULTILINE)
"""What :data:`_STEP` finds in each line of an ASCII block without CR (text's whitespace also holds 0x1c-0x1f). The
literal comes first and the byte before it is checked behind it: a pattern that starts with a lookbehind has no
literal to skip to, so the engine would try every byte (this way a block splits in 0.6× the time)."""
_NOT_MARKS = bytes(set(range(256)) - set(b'"\\(),{}'))
_HELD = b"\x01"
_PARENS_TO_SPACES = bytes.maketrans(b"()" + _HELD, b"  :")  # a wrapper's held colon put back
_NEGATIVE_ZERO = re.compile(rb"-0(?![0-9.eE])(?<=[:\s]-0)")  # a value ``-0``, found by its literal first
_ROWS = msgspec.json.Decoder(list[dict[str, float]])
_ROW = msgspec.json.Decoder(dict[str, float])
PIECE_BYTES = 128 << 10
MAX_FAST_STEP_DIGITS = 15  # int(text) equals int(float(text)), as the general path reads a step


def _value(text: str) -> str:
    text = text.strip()
    if not text.endswith(")"):
        return text
    if text.startswith(_NP):  # NumPy 2's repr: what _WRAPPED would give, without the regex
        inner = text[11:-1]
        if "(" not in inner and ")" not in inner:
            return inner.strip()
    match = _WRAPPED.match(text)
    return match["v"].strip() if match else text


def _general(step: str, rest: str) -> Record | None:
    pairs = (part.rpartition(":") for part in rest.split(" - ")[1:])
    values = {key.strip(): _value(raw) for key, _, raw in pairs if key.strip()}  # no colon: key is ""
    return record_from_mapping(values, step=step)


def _pairs(rest: str) -> dict[str, float] | None:
    """The values of a usual line's pairs (``rest`` after its step) read as :func:`_block` reads them, or None."""
    if not rest.isascii():
        return None
    doc = _as_json([rest[3:].encode()])
    if doc is None:
        return None
    try:
        return _ROW.decode(doc[1:-1])
    except msgspec.DecodeError:
        return None


def _parse(line: str) -> tuple[int, dict[str, float]] | Record | None:
    """(step, values) for the usual line, a Record for any other record, or None for a line that is not one."""
    segment = line.rsplit("\r", 1)[-1].rstrip()
    match = _STEP.search(segment) if "step:" in segment else None  # the literal first: the regex tries every byte
    if match is None:
        return None
    step, rest = match["step"], match["rest"]
    values = _pairs(rest) if rest and len(step) <= MAX_FAST_STEP_DIGITS and step.isdigit() else None
    if values is None:
        return _general(step, rest)
    shape = columns.layout(tuple(values))
    if shape is None or not shape.plain or not shape.clean:  # a step or time key among the pairs, a spaced key
        return _general(step, rest)
    return int(step), values


def parse_line(line: str) -> Record | None:
    found = _parse(line)
    return Record(found[0], None, found[1]) if isinstance(found, tuple) else found


def _block(data: bytes) -> Columns | None:
    """The block's records as columns when every line is usual (see the module), else None."""
    found = split_block(data)
    return found[0] if found is not None else None


def split_block(data: bytes) -> tuple[Columns, bytes] | None:
    """The records of a block of usual lines as columns, and the block's other text (all but the step lines, from
    their ``step:`` on), or None when a line is unusual.

    Read in pieces of about :data:`PIECE_BYTES` cut at line ends: each rewrite pass then runs over bytes still in
    the CPU cache (measured: a fifth faster than over a whole 8 MiB block at once).
    """
    if b"\r" in data or not data.isascii():
        return None
    found = list(map(_split_piece, _pieces(data, PIECE_BYTES)))
    if None in found:
        return None
    pieces = cast("list[tuple[Columns, bytes]]", found)
    if len(pieces) == 1:
        return pieces[0] if pieces[0][0].steps else None
    if not any(block.steps for block, _ in pieces):
        return None
    steps, times, rows, shapes = ([] for _ in range(4))
    for block, _ in pieces:
        steps += block.steps
        times += block.times
        rows += block.rows
        shapes += block.shapes
    return Columns(steps, times, rows, shapes), b"".join(other for _, other in pieces)


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` in pieces of at least ``size`` bytes (the last may be shorter), each ending where a line does."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + size) + 1 or len(data)
        yield data[start:end]
        start = end


def _split_piece(data: bytes) -> tuple[Columns, bytes] | None:
    """:func:`split_block` of one piece (ASCII, no CR); a piece without records gives no columns and its text."""
    parts = _STEP_LINES.split(data)  # text, step, pairs, text, step, pairs, …, text
    steps, rests = parts[1::3], parts[2::3]
    if None in rests:  # a step line without pairs is no record
        steps = [s for s, r in zip(steps, rests, strict=True) if r is not None]
        rests = [r for r in rests if r is not None]
    other = b"".join(parts[0::3])
    if b"step:" in other and _ODD_STEP.search(other):
        return None  # a negative or fractional step: read line by line, where it is refused with a note
    if not steps:
        return Columns([], [], [], []), other
    if max(map(len, steps)) > MAX_FAST_STEP_DIGITS:
        return None
    doc = _as_json(rests)
    if doc is None:
        return None
    try:
        rows = _ROWS.decode(doc)
    except msgspec.DecodeError:  # a value that is no JSON number (nan, 1., +1, text), a colon too many or too few
        return None
    shapes = columns.layouts(rows)
    if len(rows) != len(steps) or shapes is None or not columns.plain(shapes) or not columns.clean(shapes):
        return None
    return Columns(list(map(int, steps)), [None] * len(rows), rows, shapes), other


def _as_json(rests: list[bytes]) -> bytes | None:
    """The pairs of each line (``key:value - key:value …``, after the step's `` - ``) as one JSON array of
    objects, or None when a line is unusual.

    Each value is a number or ``np.float64(number)`` closed where its pair ends. Every way a line can be unusual
    either leaves a byte the checks refuse or makes invalid JSON; keys with spaces around them, or empty, are
    refused after decoding (:func:`rankinv.ingest.columns.clean`). Four passes make the JSON (separators; wrappers
    with their colon, which is held back as a byte of its own; the other colons, two a line; then the wrappers'
    parentheses made spaces, which JSON skips, and their colons put back); the checks count bytes, and a count of
    wrappers comes from the length the replacement took off. Replacing the wrappers before the colons leaves the
    colon pass a few matches a line instead of one per pair (each match of a pattern longer than a byte costs
    about 50 ns).
    """
    body = b'},{"'.join(rests)
    if _HELD in body:
        return None  # the byte that stands for a wrapper's colon below
    joined = len(body)
    body = body.replace(b" - ", b',"')
    separators = joined - len(body)  # each made one byte shorter (and added a quote)
    size = len(body)
    body = body.replace(b":np.float64(", b'"' + _HELD + b"(")  # the colon held back: the next pass skips it
    wrapped = (size - len(body)) // (len(b":np.float64(") - len(b'"' + _HELD + b"("))
    size = len(body)
    body = body.replace(b":", b'":')
    colons = len(body) - size  # each made one byte longer (and added a quote)
    marks = body.translate(None, _NOT_MARKS)  # quotes, backslashes, parentheses, braces and commas, in order
    if marks.count(b'"') != len(rests) - 1 + separators + colons + wrapped or b"\\" in marks:
        return None  # a quote of its own (the joins and the rewrite made all the others), a backslash
    if not marks.count(b"(") == marks.count(b"()") == marks.count(b")") == wrapped:
        return None  # a parenthesis of its own, a closer without its wrapper in the same pair, or a wrapper without
    if not marks.count(b"{") == marks.count(b"}") == len(rests) - 1:
        return None  # a brace of its own (the joins hold one of each)
    if wrapped:
        if body.count(b'),"') + body.count(b')},{"') + body.endswith(b")") != wrapped:
            return None  # a closer before its pair ends
        body = body.translate(_PARENS_TO_SPACES)
    if b"-0" in body and _NEGATIVE_ZERO.search(body):
        return None  # JSON reads the integer -0 as 0.0, float() as -0.0
    return b'[{"' + body + b"}]"


def parse_block(data: bytes) -> Iterator[Columns | Record]:
    """The records of a block of complete lines, as :func:`parse_line` gives them, piece by piece (cut at line
    ends, :data:`PIECE_BYTES`): a piece of usual lines as columns, any other piece line by line.

    The consumer makes a piece's points before the next piece is decoded, so the memory of its rows is freed and
    reused by the next piece's (measured: a tenth faster than decoding the whole 8 MiB block first, with fewer
    page faults); an unusual line costs only its piece the fast path.
    """
    for piece in _pieces(data, PIECE_BYTES):
        block = _block(piece)
        if block is not None:
            yield block
        else:
            yield from _each_line(piece)


def _each_line(data: bytes) -> Iterator[Record]:
    for line in data.decode("utf-8", errors="replace").split("\n"):
        record = parse_line(line.rstrip("\r")) if line.strip() else None
        if record is not None:
            yield record
