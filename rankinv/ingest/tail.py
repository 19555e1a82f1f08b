"""The shared incremental tail: read only what was appended since the last offset, and never a half-written unit.

A reader hands :func:`tail` its framing (how many leading bytes form complete units: whole lines, whole
TFRecords) and a consumer; :func:`tail` feeds the consumer only complete units and returns where to resume.
Cost is proportional to the new bytes, plus two small reads (the file's first bytes and the bytes just before the
saved position) that fingerprint what was already read, to notice a replaced file.

What happens to the file between two reads:

- appended: continue at the saved position;
- truncated, or rewritten in place (size shrank, or the fingerprint changed), or replaced by a new file (inode
  changed): if the old content still exists next to it (renamed away, like ``train.log`` → ``train.log.1``, or
  copied away, like logrotate's ``copytruncate``) its unread complete units are drained first; then the new content
  is read from the start. Without such a predecessor the consumer is told the content restarted;
- unchanged: nothing is read beyond the fingerprint. While everything read so far fits inside the fingerprint (a
  small log), a copy-truncated log rewritten with the same first bytes would look unchanged, so there a rotated
  copy beside it that is larger than the log, or holds other bytes after those read, is also looked for (a
  directory listing per read, small logs only). A stale rotated file from before we started reading whose first
  bytes equal everything read so far is taken for such a copy once.
  The last few rotated files drained are remembered and never read again. Inside
  :func:`rankinv.ingest.kept.keeping` that listing is reused while the folder's mtime is unchanged and was at
  least 2 s old when it was listed (the candidates it names are still stat-ed and compared on every read).

Limits (the daemon reads every few seconds; logs rotate hourly at most): two rotations between two reads lose
the middle generation; a log that was still empty at the last read and is copy-truncated before the next looks
unchanged, so the lines in the copy are not read; lines a process writes to a renamed file after we drained it
are not read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import BinaryIO, Protocol

from rankinv.boundary.files import open_regular
from rankinv.errors import RankinvError
from rankinv.ingest.kept import Kept, KeptFiles, kept_files

HEAD_BYTES = 4096
MARK_BYTES = 256
BLOCK_BYTES = 8 << 20
MIN_BLOCK_BYTES = 64 << 10
MAX_UNIT_BYTES = 8 << 20
"""Longest unit (line) kept; a longer unterminated one is skipped up to its end, so a read holds at most this plus
one block in memory (a sparse file of NULs, a binary dump, ``/dev/zero`` behind a regular-looking name)."""
DRAINED_KEPT = 8
_pread = os.pread  # the fingerprints' positioned reads, by one name (tests count them)

log = logging.getLogger("rankinv.ingest")

Framing = Callable[[bytes], int]


@dataclass(frozen=True)
class Offset:
    """Where a reader resumes: small, immutable, JSON-serialisable (the daemon stores it keyed by source path).

    ``position``/``inode``/``head`` locate the tail of a growing file; ``records`` and ``last_step`` let readers whose
    format carries no step number count logging calls; ``signature`` lets whole-file readers skip unchanged files.
    """

    position: int = 0
    inode: int | None = None
    head: str = ""
    records: int = 0
    last_step: int | None = None
    signature: str = ""
    drained: tuple[int, ...] = ()
    """Inodes of the last few rotated files already drained: never taken for a copy of the current one."""
    progress: tuple[int, ...] = ()
    """Step evidence a stdout reader carries between reads (progress-bar counter and total); opaque here."""

    def to_json(self) -> str:
        """The offset as ``json.dumps(asdict(offset), sort_keys=True)`` writes it (tuples as lists): put together
        by hand when every field has its usual type (the daemon writes one per record), else by the encoder."""
        p, i, h, r, s = self.position, self.inode, self.head, self.records, self.last_step
        d, g = self.drained, self.progress
        if (type(p) is int and type(r) is int and (i is None or type(i) is int) and (s is None or type(s) is int)
                and type(h) is str and type(g) is tuple and type(d) is tuple and type(self.signature) is str
                and all(type(x) is int for x in d) and all(type(x) is int for x in g)):  # fmt: skip
            return (f'{{"drained": [{", ".join(map(int.__repr__, d))}], "head": {_STRING(h)}, '
                    f'"inode": {"null" if i is None else int.__repr__(i)}, '
                    f'"last_step": {"null" if s is None else int.__repr__(s)}, "position": {int.__repr__(p)}, '
                    f'"progress": [{", ".join(map(int.__repr__, g))}], "records": {int.__repr__(r)}, '
                    f'"signature": {_STRING(self.signature)}}}')  # fmt: skip
        return _ENCODE({name: getattr(self, name) for name in _FIELDS})  # tuples encode as lists, like asdict's

    @classmethod
    def from_json(cls, text: str) -> Offset:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise RankinvError(f"stored ingest offset is not JSON ({exc}): {text[:80]!r}; delete it") from None
        names = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or not set(raw) <= names:
            raise RankinvError(f"stored ingest offset has unexpected fields: {text[:80]!r}; delete it to re-read")
        return cls(**{**raw, "drained": tuple(raw.get("drained", ())), "progress": tuple(raw.get("progress", ()))})


START = Offset()
_FIELDS = tuple(f.name for f in fields(Offset))
_ENCODE = json.JSONEncoder(sort_keys=True).encode
_STRING = json.encoder.encode_basestring_ascii  # a str as the encoder above quotes it (ensure_ascii)


class Consumer(Protocol):
    """Fed complete units; told when the content restarted. One may also have ``at(path, position)``, called
    before each feed with the file and byte offset the fed bytes start at (a rotated file being drained, too)."""

    def feed(self, data: bytes) -> None: ...

    def restart(self) -> None: ...


def lines_framing(data: bytes) -> int:
    """Complete lines end with ``\\n`` (``\\r\\n`` too); the rest waits for more bytes."""
    return data.rfind(b"\n") + 1


def tail(path: Path, offset: Offset, framing: Framing, consumer: Consumer, *, max_unit: int = MAX_UNIT_BYTES) -> Offset:
    """Feed ``consumer`` the complete units appended since ``offset``; return the offset to resume from.

    Only regular files are read (:func:`~rankinv.boundary.files.open_regular`); anything else raises
    :class:`~rankinv.boundary.files.UnsafeFile` with the reason. Bytes that form no unit within ``max_unit`` are
    skipped up to the next newline, with a warning. Inside :func:`rankinv.ingest.kept.keeping`, the file read is
    kept open and read on from its descriptor while the path still names it (see that module).
    """
    kept = kept_files()
    if kept is not None and offset.inode is not None:
        fast = _tail_kept(kept, path, offset, framing, consumer, max_unit=max_unit)
        if fast is not None:
            return fast
    new = _tail_path(path, offset, framing, consumer, max_unit)
    if kept is not None:
        kept.keep(path, new.position, new.inode, new.head, _fingerprint)
    return new


def _tail_path(path: Path, offset: Offset, framing: Framing, consumer: Consumer, max_unit: int) -> Offset:
    """:func:`tail` through the path, with every check: rotation, truncation, rewrites, rotated copies."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return offset
    start = offset.position
    drained = tuple(offset.drained)
    if offset.inode is not None and not _continues(path, st, offset):
        old = _drain_predecessor(path, offset, framing, consumer)
        drained = (*drained, *(i for i in (offset.inode, old) if i is not None and i != st.st_ino))[-DRAINED_KEPT:]
        start = 0
    elif offset.inode is None and start and not _head_matches(path, offset):
        start = 0
    kept = kept_files()
    with open_regular(path) as f:
        position, more = _read_file(f, path, start, framing, consumer, max_unit=max_unit,
                                    limit=kept.read_limit if kept else None)  # fmt: skip
        head = _head_of(f, position)  # of the file just read (not opened again)
    if more and kept is not None:
        kept.more = True
    return replace(offset, position=position, inode=st.st_ino, head=head, drained=drained)


def _tail_kept(kept: KeptFiles, path: Path, offset: Offset, framing: Framing, consumer: Consumer, *,
               max_unit: int) -> Offset | None:  # fmt: skip
    """:func:`tail` from the kept descriptor when the path still names it and it simply grew (or did not change);
    None when anything else may have happened (the full path then decides what).

    The file's first bytes are read once per call: compared with those the last read's fingerprint was made of (a
    rewrite in place, even to a larger size, changes them or the bytes before the position), then, once the new
    units are read, they make the new fingerprint as far as they go."""
    found = kept.reuse(path, offset.position, offset.inode, offset.head)
    if found is None:
        return None
    entry, st = found
    position = offset.position
    try:
        fd = entry.file.fileno()
        start = _pread(fd, HEAD_BYTES, 0) if position else b""
        grown = st.st_size >= position and _unchanged(entry, fd, start, position)
        if not grown or (0 < position <= HEAD_BYTES and _find_copy(path, offset, kept) is not None):
            kept.close(str(path))  # rewritten, truncated, or a rotated copy to look at: the full path
            return None
    except OSError:
        kept.close(str(path))
        return None
    try:
        position, more = _read_file(entry.file, path, position, framing, consumer, max_unit=max_unit,
                                    limit=kept.read_limit)  # fmt: skip
        head, first, mark = _fingerprint(entry.file, position, start)
        kept.more = kept.more or more
    except BaseException:
        kept.close(str(path))
        raise
    kept.moved(entry, position, head, first, mark)
    o = offset
    return Offset(position, o.inode, head, o.records, o.last_step, o.signature, o.drained, o.progress)


def _unchanged(entry: Kept, fd: int, start: bytes, position: int) -> bool:
    """Does the kept file still hold, at the start and just before ``position``, the bytes the last read's
    fingerprint was made of? ``start``: its first bytes, read just now."""
    if not position:
        return True  # nothing read yet: nothing to compare (the fingerprint is "")
    if not entry.first:  # kept without its bytes: compare fingerprints
        return _fingerprint(entry.file, position, start)[0] == entry.head
    if start[: min(position, HEAD_BYTES)] != entry.first:
        return False
    at = max(0, position - MARK_BYTES)
    return (start[at:position] if len(start) >= position else _pread(fd, position - at, at)) == entry.mark


def _continues(path: Path, st: os.stat_result, offset: Offset) -> bool:
    """Is the file still the one we were reading, grown or unchanged?"""
    if st.st_size < offset.position:
        return False
    if st.st_ino != offset.inode and _find_by_inode(path, offset.inode) is not None:
        return False  # renamed away and a new file created: drain the old one
    if not _head_matches(path, offset):
        return False
    # While everything read fits in the fingerprint, a copy-truncated log rewritten with the same first bytes looks
    # unchanged; a rotated copy beside it holding more than the log now does, or other bytes after what we read,
    # tells the truth (small logs only). A plain copy of a log that goes on growing holds the same bytes.
    copy = _find_copy(path, offset) if 0 < offset.position <= HEAD_BYTES else None
    return copy is None or (copy.stat().st_size <= st.st_size and _same_after(path, copy, offset.position))


def _same_after(path: Path, copy: Path, position: int) -> bool:
    """Does the log hold the copy's bytes after ``position`` (a window of them, as far as the copy goes)?"""
    windows: list[bytes] = []
    for each in (copy, path):
        with open_regular(each) as f:
            f.seek(position)
            windows.append(f.read(len(windows[0]) if windows else HEAD_BYTES))
    return windows[0] == windows[1]


def _head_matches(path: Path, offset: Offset) -> bool:
    return _head(path, offset.position) == offset.head


def _head(path: Path, position: int) -> str:
    """Fingerprint of the content read so far: its first bytes and the bytes just before ``position``.

    It changes when the file is replaced or rewritten in place, and identifies a rotated copy of it.
    """
    if not position:
        return ""
    with open_regular(path) as f:
        return _head_of(f, position)


def _head_of(f: BinaryIO, position: int) -> str:
    """:func:`_head` of an open file (positioned reads: the file's own position is left alone)."""
    return _fingerprint(f, position)[0]


def _fingerprint(f: BinaryIO, position: int, start: bytes = b"") -> tuple[str, bytes, bytes]:
    """:func:`_head_of`, with the bytes it is made of (the first ones, those just before ``position``); ``start``:
    the file's first bytes if already read (used as far as they go, the rest read)."""
    if not position:
        return "", b"", b""
    fd = f.fileno()
    n = min(position, HEAD_BYTES)
    first = start[:n] if len(start) >= n else _pread(fd, n, 0)
    at = max(0, position - MARK_BYTES)
    mark = start[at:position] if len(start) >= position else _pread(fd, position - at, at)
    return hashlib.sha1(first + b"\0" + mark).hexdigest(), first, mark


def _drain_predecessor(path: Path, offset: Offset, framing: Framing, consumer: Consumer) -> int | None:
    """Read the rest of the old content from where rotation put it; without one, the content restarted.

    Returns the inode of the file drained, so it is never taken for a copy again.
    """
    old = _find_by_inode(path, offset.inode) or _find_copy(path, offset)
    if old is None:
        consumer.restart()
        return None
    _read_from(old, offset.position, framing, consumer, MAX_UNIT_BYTES)
    return old.stat().st_ino


def _siblings(path: Path, kept: KeptFiles | None = None, prefix: str = "") -> list[Path]:
    """The other regular files in the log's folder (those whose names start with ``prefix``); with ``kept``, a
    listing reused while the folder is unchanged."""
    folder = path.parent
    names = kept.names(folder) if kept is not None else None
    if names is None:
        try:
            before = os.stat(folder)
            with os.scandir(folder) as entries:
                names = tuple(e.name for e in entries if e.is_file(follow_symlinks=False))
        except OSError:
            return []
        if kept is not None:
            kept.listed(folder, names, before)
    return [folder / name for name in names if name != path.name and name.startswith(prefix)]


def _find_by_inode(path: Path, inode: int | None) -> Path | None:
    for sibling in _siblings(path):
        try:
            if sibling.stat().st_ino == inode:
                return sibling
        except OSError:
            continue
    return None


def _find_copy(path: Path, offset: Offset, kept: KeptFiles | None = None) -> Path | None:
    """The newest rotated copy (``train.log.1``, ``train.log-2026…``) holding exactly the bytes we already read."""
    candidates = []
    for sibling in _siblings(path, kept, path.name):
        if sibling.suffix in (".gz", ".bz2", ".xz", ".zst"):
            continue
        try:
            st = sibling.stat()
            if st.st_ino in offset.drained:
                continue  # an older generation we drained already; its bytes may match by chance
            if st.st_size >= offset.position and _head_matches(sibling, offset):
                candidates.append((st.st_mtime_ns, sibling.name, sibling))
        except OSError:
            continue
    return max(candidates)[2] if candidates else None


def _read_from(path: Path, start: int, framing: Framing, consumer: Consumer, max_unit: int) -> int:
    with open_regular(path) as f:
        return _read_file(f, path, start, framing, consumer, max_unit=max_unit)[0]


def _read_file(f: BinaryIO, path: Path, start: int, framing: Framing, consumer: Consumer, *, max_unit: int,
               limit: int | None = None) -> tuple[int, bool]:  # fmt: skip
    """Feed complete units from ``start`` to the end of the file, a block at a time; return the new position, and
    whether the read stopped early, at a unit boundary, having fed ``limit`` bytes (the rest is read next time)."""
    position = start
    pending = b""  # the unfinished unit held over from the block before
    at: Callable[[Path, int], None] | None = getattr(consumer, "at", None)
    skipping = 0
    size = BLOCK_BYTES if limit is None else max(MIN_BLOCK_BYTES, min(BLOCK_BYTES, limit))
    f.seek(start)
    while block := f.read(size):
        if skipping:
            end = block.find(b"\n")
            skipped = len(block) if end < 0 else end + 1
            skipping, position = skipping + skipped, position + skipped
            if end < 0:
                continue
            _skipped(path, position, skipping, max_unit)
            skipping, block = 0, block[end + 1 :]
        data = pending + block if pending else block  # the common block is fed as read, never copied
        n = framing(data)
        if n:
            if at is not None:
                at(path, position)  # data starts at position: the bytes before it were fed
            consumer.feed(data[:n] if n < len(data) else data)
            pending = data[n:]
            position += n
        elif len(data) > max_unit:
            skipping, position = len(data), position + len(data)
            pending = b""
        else:
            pending = data
        if limit is not None and position - start >= limit and not skipping:
            return position, True  # perhaps at the end: the next read then finds nothing
    if skipping:  # the file ends inside the long line: the rest of it, once written, reads as one junk line
        _skipped(path, position, skipping, max_unit)
    return position, False


def _skipped(path: Path, position: int, size: int, max_unit: int) -> None:
    log.warning("%s: skipped %d bytes without a line end before offset %d (longer than %d bytes: not a log line)",
                path, size, position, max_unit)


def offset_at_end(path: Path, framing: Framing = lines_framing) -> Offset:
    """An offset that skips everything already complete in ``path`` (start tailing from now)."""

    class _Skip:
        def feed(self, data: bytes) -> None:
            pass

        def restart(self) -> None:
            pass

    return tail(path, START, framing, _Skip())
