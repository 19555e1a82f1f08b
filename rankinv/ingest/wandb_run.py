"""W&B run files (``wandb/offline-run-*/run-*.wandb``; optional extra ``rankinv[wandb]``): every ``wandb.log`` row.

An offline run (``WANDB_MODE=offline``) keeps its data in one transaction log for ``wandb sync``; online runs
write the same file. Its layout: a 7-byte header (``:W&B``, magic 0xBEE1, version 0), then LevelDB-log framing in
32 KiB blocks — each chunk a 7-byte header (CRC-32 of its type byte and data, length, type FULL / FIRST / MIDDLE /
LAST), a block's last bytes zero padding when fewer than 7 remain — and each whole record a ``Record`` protobuf,
decoded with the protos the ``wandb`` package ships (wandb itself no longer ships a Python reader of the file).

History rows become records: the step is ``train/global_step`` (or OpenRLHF's ``eval/global_step``) when the row
carries it (transformers' and OpenRLHF's W&B loggers), else wandb's own ``_step``; only numbers are kept (media,
tables, histograms are not metrics). TRL's ``profiling/`` timings are left out: they are logged several times within
one step. The file is untrusted: a chunk failing its CRC, or framing that makes no sense, skips the rest of its
block with a warning (the records after it are still read); a record over :data:`MAX_RECORD` is dropped; a file that
is not a W&B run file is refused with a message saying so.
"""

from __future__ import annotations

import json
import logging
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankinv.boundary import listing
from rankinv.boundary.files import open_regular, readable
from rankinv.errors import RankinvError
from rankinv.ingest.batch import Points
from rankinv.ingest.notes import Where
from rankinv.ingest.tail import START, Offset, tail
from rankinv.ingest.values import Record, points, record_from_mapping
from rankinv.metrics import MetricPoint

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32 << 10
CHUNK = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
MAX_RECORD = 64 << 20
SKIPPED_PREFIXES = ("_", "profiling/")
STEP_METRICS = ("train/global_step", "eval/global_step")  # what transformers and OpenRLHF log as the step
log = logging.getLogger("rankinv.ingest")
RUN_DIRS = ("offline-run-*", "run-*")  # wandb/<run dir>/run-<id>.wandb; wandb/latest-run is a symlink to one


def run_files(run_dir: Path) -> list[Path]:
    """A training run's W&B run files (``wandb/offline-run-*/run-*.wandb``, online runs' too) that look like one."""
    found: set[Path] = set()
    if not listing.is_dir(run_dir / "wandb"):
        return []
    for pattern in RUN_DIRS:
        for path in (run_dir / "wandb").glob(f"{pattern}/run-*.wandb"):
            if not path.parent.is_symlink() and readable(path) and _header_ok(path):
                found.add(path)
    return sorted(found)


def _header_ok(path: Path) -> bool:
    """Does the file start with the W&B header (or is it too short to tell yet)?"""
    try:
        with open_regular(path) as f:
            head = f.read(len(HEADER))
    except OSError:
        return False
    return HEADER.startswith(head)


@dataclass
class Framing:
    """Walks chunks from an absolute file position; hands over only whole records (and padding / skipped junk)."""

    path: Path
    position: int = 0  # absolute file offset of the next byte the consumer gets
    warned: bool = False

    def walk(self, data: bytes) -> tuple[list[bytes], int]:
        """The whole records at the start of ``data`` and how many bytes they (and skipped bytes) span."""
        records: list[bytes] = []
        i = done = 0
        if self.position == 0:
            if len(data) < len(HEADER):
                return records, 0
            if data[: len(HEADER)] != HEADER:
                raise RankinvError(f"{self.path}: not a W&B run file (it does not start with the ':W&B' header)")
            i = done = len(HEADER)
        parts: list[bytes] | None = None
        while True:
            room = BLOCK - (self.position + i) % BLOCK
            if room < CHUNK:  # zero padding at the end of a block
                if len(data) - i < room:
                    break
                i += room
                done = i if parts is None else done
                continue
            if len(data) - i < CHUNK:
                break
            crc, length, kind = struct.unpack_from("<IHB", data, i)
            sane = length <= room - CHUNK and kind in (FULL, FIRST, MIDDLE, LAST)
            if sane and len(data) - i < CHUNK + length:
                break
            payload = data[i + CHUNK : i + CHUNK + length]
            if not sane or zlib.crc32(payload, zlib.crc32(bytes((kind,)))) & 0xFFFFFFFF != crc:
                if len(data) - i < room:
                    break  # skip the block once it is all there: never past the end of the file
                self._warn(f"a damaged chunk at offset {self.position + i}; the rest of its 32 KiB block skipped")
                i, parts = i + room, None
                done = i
                continue
            i += CHUNK + length
            parts = self._chunk(kind, payload, parts, records)
            if parts is None:
                done = i
        return records, done

    def _chunk(self, kind: int, payload: bytes, parts: list[bytes] | None, records: list[bytes]) -> list[bytes] | None:
        """Add one chunk; returns the fragments of a record still open (None when none is)."""
        if kind == FULL:
            records.append(payload)
            return None
        if kind == FIRST:
            return [payload]
        if parts is None:  # a MIDDLE or LAST whose FIRST was skipped: an orphan
            return None
        parts.append(payload)
        if sum(map(len, parts)) > MAX_RECORD:
            self._warn(f"a record over {MAX_RECORD >> 20} MiB dropped")
            return None
        if kind == LAST:
            records.append(b"".join(parts))
            return None
        return parts

    def _warn(self, message: str) -> None:
        if not self.warned:
            self.warned = True
            log.warning("%s: %s", self.path, message)


def _proto() -> Any:
    try:
        import wandb  # noqa: F401  (first: a blocked or absent package fails here, not at a cached submodule)
        from google.protobuf.message import DecodeError
        from wandb.proto import wandb_internal_pb2
    except ImportError:
        raise RankinvError("reading W&B run files needs the wandb package: pip install 'rankinv[wandb]'") from None
    return wandb_internal_pb2, DecodeError


def history_record(history: Any) -> Record | None:
    """One ``wandb.log`` row as a Record at its step; None when it holds no number."""
    raw: dict[str, Any] = {}
    for item in history.item:
        key = "/".join(item.nested_key) if item.nested_key else item.key
        key = "epoch" if key == "train/epoch" else key  # transformers logs it beside eval rows too
        try:
            raw[key] = json.loads(item.value_json)
        except (ValueError, RecursionError):  # junk, or nested deeper than a metric ever is
            continue
    logged = [raw[k] for k in STEP_METRICS if _number(raw.get(k))]
    step = logged[0] if logged else history.step.num
    wall = raw.get("_timestamp")
    values = {k: v for k, v in raw.items()
              if not k.startswith(SKIPPED_PREFIXES) and k not in STEP_METRICS and _number(v)}  # fmt: skip
    return record_from_mapping(values, step=step, time=wall)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class _Collect:
    run: str
    framing: Framing
    proto: Any
    last_step: int | None
    found: list[MetricPoint] = field(default_factory=list)
    path: Path = Path("?")  # the file being fed (for notes)
    skipped: Points | None = None  # notes of the rows skipped for their step

    def at(self, path: Path, position: int) -> None:
        self.path = path

    def feed(self, data: bytes) -> None:
        records, used = self.framing.walk(data)
        self.framing.position += used
        pb, decode_error = self.proto
        for payload in records:
            record = pb.Record()
            try:
                record.ParseFromString(payload)
            except decode_error:
                continue  # a corrupt record is skipped; the ones after it are still read
            if record.WhichOneof("record_type") != "history":
                continue
            row = history_record(record.history)
            if row is not None and row.problem is not None:
                self.refuse(row.problem, record.history.step.num)
            elif row is not None and row.step is not None:
                self.last_step = row.step if row.role == "train" else self.last_step
                self.found.extend(points(self.run, row.step, row))

    def restart(self) -> None:
        self.framing.position, self.last_step = 0, None

    def refuse(self, problem: tuple[str, str], row: int) -> None:
        """Note a history row skipped because its step cannot be one."""
        if self.skipped is None:
            self.skipped = Points(self.run)
        self.skipped.note(problem, Where(self.path, record=f"history row _step={row}"))


HEAD_BYTES = 1 << 20


def head_names(path: Path, size: int = HEAD_BYTES) -> set[str]:
    """Raw metric keys in the first ``size`` bytes (discovery's cheap look); empty without wandb or on junk."""
    try:
        proto = _proto()
        with open_regular(path) as f:
            data = f.read(size)
        collect = _Collect("", Framing(path, warned=True), proto, None)
        collect.feed(data[: collect.framing.walk(data)[1]])
    except (OSError, RankinvError):
        return set()
    return {p.name for p in collect.found}


class WandbRunReader:
    """Incremental reader of one ``run-*.wandb`` file."""

    fmt = "wandb"

    def __init__(self, path: Path, run: str) -> None:
        self.path, self.run = path, run
        self.proto = _proto()

    def read_new(self, offset: Offset | None = None) -> tuple[Points, Offset]:
        offset = offset or START
        framing = Framing(self.path, offset.position)
        collect = _Collect(self.run, framing, self.proto, offset.last_step)

        def frame(data: bytes) -> int:
            return Framing(self.path, framing.position, warned=True).walk(data)[1]

        new = tail(self.path, offset, frame, collect, max_unit=MAX_RECORD + BLOCK)
        found = Points(self.run, collect.found)
        if collect.skipped is not None:
            found.notes = collect.skipped.notes
        return found, Offset(new.position, new.inode, new.head, offset.records, collect.last_step)
