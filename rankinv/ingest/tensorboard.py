"""TensorBoard event files (optional extra ``rankinv[tensorboard]``): every scalar, no reservoir sampling.

TensorBoard's own loader keeps a sample of each series; a monitor that decides kills needs every point, so the
file is read directly: TFRecord framing (length, masked CRC-32C of the length, payload, payload CRC), each payload
an ``Event`` protobuf decoded with the protos shipped in the ``tensorboard`` package. A record is complete once
all its bytes are present; bytes whose length header fails its CRC are skipped one at a time until the framing is
found again, so garbage never hides the records after it. Scalars come as ``simple_value`` (PyTorch, tensorboardX,
HF) or as scalar tensors (TF2 ``tf.summary.scalar``); both are kept.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError
from rankinv.ingest.batch import Points
from rankinv.ingest.notes import Where
from rankinv.ingest.tail import START, Offset, tail
from rankinv.ingest.values import Record, points, refused
from rankinv.metrics import MetricPoint

HEADER = 12
FOOTER = 4
MAX_RECORD = 256 << 20
_NON_NUL = re.compile(rb"[^\0]")


def _crc_tools() -> Any:
    try:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
        from tensorboard.util import tensor_util
    except ImportError:
        raise RankinvError(
            "reading TensorBoard event files needs the tensorboard package: pip install 'rankinv[tensorboard]'"
        ) from None
    return event_pb2, masked_crc32c, tensor_util, DecodeError


def _header_ok(data: bytes, at: int, masked_crc32c: Any) -> int | None:
    """The payload length when a valid header starts at ``at``, else None."""
    (length,) = struct.unpack_from("<Q", data, at)
    (crc,) = struct.unpack_from("<I", data, at + 8)
    if length > MAX_RECORD or masked_crc32c(data[at : at + 8]) != crc:
        return None
    return int(length)


def walk(data: bytes, masked_crc32c: Any) -> tuple[list[bytes], int]:
    """Payloads of the complete records at the start of ``data`` and the bytes they (and skipped junk) span."""
    payloads: list[bytes] = []
    at = 0
    while len(data) - at >= HEADER:
        length = _header_ok(data, at, masked_crc32c)
        if length is None:
            at = _next_candidate(data, at)
            continue
        end = at + HEADER + length + FOOTER
        if end > len(data):
            break
        payloads.append(data[at + HEADER : at + HEADER + length])
        at = end
    return payloads, at


def tail_payloads(data: bytes, masked_crc32c: Any) -> list[bytes]:
    """Payloads of the complete records in ``data``, a window of an event file that starts at an unknown place in
    it (its tail). TFRecord framing has no way back, so the first record is found forward from the window's start:
    where a length that fits (its high four bytes zero) passes its header CRC *and* the payload after it passes its
    own CRC (a chance match of both is about 2^-64), not the header CRC alone as when the framing is known. The
    records after it are walked as :func:`walk` does."""
    at = 0
    while len(data) - at >= HEADER:
        zeros = data.find(b"\0\0\0\0", at + 4)
        if zeros < 0:
            return []
        at = zeros - 4
        length = _header_ok(data, at, masked_crc32c)
        end = at + HEADER + (length or 0) + FOOTER
        if length is not None and end <= len(data):
            (crc,) = struct.unpack_from("<I", data, end - FOOTER)
            if masked_crc32c(data[at + HEADER : end - FOOTER]) == crc:
                return walk(data[at:], masked_crc32c)[0]
        at = _next_candidate(data, at)
    return []


def last_scalar_step(payloads: list[bytes], tools: Any) -> int | None:
    """The step of the last of these records that carries a scalar (decoded from the end: usually one)."""
    for payload in reversed(payloads):
        collect = _Collect("", tools)
        collect.events([payload])
        if collect.last_step is not None:
            return collect.last_step
    return None


def _next_candidate(data: bytes, at: int) -> int:
    """Where a header may start after the invalid one at ``at``: in a run of NULs (a sparse file) only its last 8
    bytes can open one (a zero length; the CRC of 8 NULs has no zero first byte), so the run is jumped at C speed."""
    if data[at]:
        return at + 1
    found = _NON_NUL.search(data, at)
    end = found.start() if found else len(data)
    return max(at + 1, end - 8)


@dataclass
class _Collect:
    run: str
    tools: Any
    found: list[MetricPoint] = field(default_factory=list)
    last_step: int | None = None
    path: Path = Path("?")  # the file being fed (for notes)
    skipped: Points | None = None  # notes of the events skipped for their step

    def at(self, path: Path, position: int) -> None:
        self.path = path

    def feed(self, data: bytes) -> None:
        self.events(walk(data, self.tools[1])[0])

    def events(self, payloads: list[bytes]) -> None:
        """Decode each record's ``Event``, keeping its scalars."""
        for payload in payloads:
            self._event(payload)

    def restart(self) -> None:
        self.last_step = None

    def _event(self, payload: bytes) -> None:
        event_pb2, _, tensor_util, decode_error = self.tools
        event = event_pb2.Event()
        try:
            event.ParseFromString(payload)
        except decode_error:
            return  # a corrupt payload is skipped; the records after it are still read
        values = {}
        for value in event.summary.value:
            number = _scalar(value, tensor_util)
            if number is not None:
                values[value.tag] = number
        if values and event.step < 0:  # an int64: never beyond 2^63-1, never a fraction
            self._refuse(int(event.step), values)
        elif values:
            self.last_step = int(event.step)
            self.found.extend(points(self.run, int(event.step), Record(int(event.step), event.wall_time, values)))

    def _refuse(self, step: int, values: dict[str, float]) -> None:
        """Note an event skipped because its step is negative (the store keeps steps from 0)."""
        bad = refused(step, None, values)
        assert bad is not None and bad.problem is not None
        if self.skipped is None:
            self.skipped = Points(self.run)
        self.skipped.note(bad.problem, Where(self.path, record=f"an event of {next(iter(values))!r}"))


def _scalar(value: Any, tensor_util: Any) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind != "tensor":
        return None
    try:
        array = tensor_util.make_ndarray(value.tensor)
    except (ValueError, TypeError):
        return None
    if array.size != 1 or array.dtype.kind not in "fiu":
        return None
    return float(array.reshape(()).item())


class TensorBoardReader:
    """Incremental reader of one ``events.out.tfevents.*`` file."""

    fmt = "tensorboard"

    def __init__(self, path: Path, run: str) -> None:
        self.path, self.run = path, run
        self.tools = _crc_tools()

    def read_new(self, offset: Offset | None = None) -> tuple[Points, Offset]:
        offset = offset or START
        collect = _Collect(self.run, self.tools, last_step=offset.last_step)
        new = tail(self.path, offset, lambda data: walk(data, self.tools[1])[1], collect,
                   max_unit=HEADER + MAX_RECORD + FOOTER)
        found = Points(self.run, collect.found)
        if collect.skipped is not None:
            found.notes = collect.skipped.notes
        return found, Offset(new.position, new.inode, new.head, offset.records, collect.last_step)
