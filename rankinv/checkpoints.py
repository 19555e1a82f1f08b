"""Is a checkpoint directory complete: config present, every weight file present and whole, and no longer changing?

A checkpoint that is still being copied or written must never be triaged: the model would load half-written
weights or fail. Completeness is judged from what the files say about themselves, without loading them:

- safetensors: the 8-byte header length and the JSON header give the exact file size;
- a sharded index (``*.safetensors.index.json``, ``pytorch_model.bin.index.json``): every shard in its
  ``weight_map`` exists and is itself whole;
- ``.bin`` files written by ``torch.save`` are zip archives: whole once the end-of-central-directory record is
  written (nothing is unpickled, ever — ``training_args.bin`` is never even opened);
- LoRA adapters: ``adapter_config.json`` plus ``adapter_model.safetensors`` or ``.bin``;
- stable: no checked file changed in the last ``settle_seconds``.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from rankinv.boundary.files import open_regular, read_text

SETTLE_SECONDS = 10.0
INDEX_BYTES = 64 << 20
MAX_SAFETENSORS_HEADER = 100 << 20
_EOCD = b"PK\x05\x06"


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint directory, its training step, and whether it is complete (with the reason either way)."""

    path: Path
    step: int
    complete: bool
    reason: str


class Incomplete(Exception):
    """Why a checkpoint is not (yet) complete."""


def assess(
    path: Path, step: int, *, settle_seconds: float = SETTLE_SECONDS, now: float | None = None
) -> CheckpointInfo:
    """Complete or not, and why, for the checkpoint (weights directory) at ``path``."""
    try:
        files, what = _required_files(path)
        _check_stable(files, settle_seconds, time.time() if now is None else now)
    except Incomplete as why:
        return CheckpointInfo(path, step, False, str(why))
    except OSError as exc:  # a file vanished or became unreadable mid-check (save_total_limit pruning, a copy)
        return CheckpointInfo(path, step, False, f"unreadable: {exc.strerror or exc}")
    return CheckpointInfo(path, step, True, what)


def _required_files(path: Path) -> tuple[list[Path], str]:
    """The config and weight files that must all be whole, and a description of them."""
    if (path / "adapter_config.json").is_file():
        adapter = _first(path, ("adapter_model.safetensors", "adapter_model.bin"))
        if adapter is None:
            raise Incomplete("LoRA adapter_config.json without adapter_model.safetensors/.bin")
        _check_weight_file(adapter)
        return [path / "adapter_config.json", adapter], f"LoRA adapter ({adapter.name})"
    if not (path / "config.json").is_file():
        raise Incomplete("no config.json")
    weights, what = _model_weights(path)
    return [path / "config.json", *weights], what


def _first(path: Path, names: tuple[str, ...]) -> Path | None:
    return next((path / n for n in names if (path / n).is_file()), None)


def _model_weights(path: Path) -> tuple[list[Path], str]:
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (path / index_name).is_file():
            shards = _shards(path / index_name)
            for shard in shards:
                _check_weight_file(shard)
            return [path / index_name, *shards], f"{len(shards)} shards listed in {index_name}"
    single = _first(path, ("model.safetensors", "pytorch_model.bin"))
    if single is not None:
        _check_weight_file(single)
        return [single], single.name
    if any(path.glob("*-of-*.safetensors")) or any(path.glob("pytorch_model-*-of-*.bin")):
        raise Incomplete("weight shards without their index file (index not written yet?)")
    raise Incomplete("no model weights (model.safetensors, pytorch_model.bin or a sharded index)")


def _shards(index: Path) -> list[Path]:
    try:
        weight_map = json.loads(read_text(index, INDEX_BYTES))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise Incomplete(f"{index.name} is not a readable index (still being written?)") from None
    missing = [n for n in names if not (index.parent / n).is_file()]
    if missing:
        raise Incomplete(f"missing shard {missing[0]} ({len(missing)} of {len(names)} missing)")
    return [index.parent / n for n in names]


def _check_weight_file(path: Path) -> None:
    if path.suffix == ".safetensors":
        _check_safetensors(path)
    else:
        _check_torch_zip(path)


def _check_safetensors(path: Path) -> None:
    size = path.stat().st_size
    with open_regular(path) as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise Incomplete(f"{path.name}: truncated header")
        (header_len,) = struct.unpack("<Q", raw)
        if header_len > MAX_SAFETENSORS_HEADER or size < 8 + header_len:
            raise Incomplete(f"{path.name}: truncated header ({size} bytes)")
        try:
            header = json.loads(f.read(header_len))
        except ValueError:
            raise Incomplete(f"{path.name}: unreadable header") from None
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    expected = 8 + header_len + max(ends, default=0)
    if size != expected:
        raise Incomplete(f"{path.name}: {size} bytes on disk, header says {expected}")


def _check_torch_zip(path: Path) -> None:
    """torch.save writes a zip; it is whole once the end-of-central-directory record exists."""
    size = path.stat().st_size
    with open_regular(path) as f:
        magic = f.read(4)
        if not magic:
            raise Incomplete(f"{path.name}: empty")
        if magic != b"PK\x03\x04":
            return  # legacy (pre-1.6) torch.save format: no end marker to check, size stability only
        f.seek(max(0, size - (64 << 10)))
        if _EOCD not in f.read():
            raise Incomplete(f"{path.name}: zip archive not finalised (still being written)")


def _check_stable(files: list[Path], settle_seconds: float, now: float) -> None:
    newest = max(p.stat().st_mtime for p in files)
    age = now - newest
    if age < settle_seconds:
        raise Incomplete(f"files changed {max(age, 0):.0f}s ago; waiting for {settle_seconds:.0f}s of stability")
