"""Ingest cost: appending a line to a 1 GB log costs what it costs on a 1 KB log; MB/s for each reader.

The 1 GB log is generated in a temporary directory at run time and deleted afterwards (never committed).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import Result
from rankinv.ingest import open_source
from rankinv.ingest.tail import offset_at_end

MB = 1 << 20
LOGS = {  # one logging call of a TRL GRPO run, in each format
    "jsonl": lambda i: json.dumps({"step": i, "time": 1.7e9 + i, "logs": _logs(i)}),
    "pydict": lambda i: str({k: f"{v:.4g}" for k, v in _logs(i).items()}),
    "verl_console": lambda i: f"(TaskRunner pid=7) step:{i} - "
    + " - ".join(f"actor/{k}:np.float64({v})" for k, v in _logs(i).items()),
}


def _logs(i: int) -> dict[str, float]:
    names = ["loss", "grad_norm", "learning_rate", "entropy", "reward", "reward_std", "frac_reward_zero_std", "kl"]
    names += [f"completions/{s}_length" for s in ("mean", "min", "max")] + ["clip_ratio/region_mean", "epoch"]
    return {n: round(0.001 * i + j / 7, 6) for j, n in enumerate(names)}


def _fill(path: Path, line: Callable[[int], str], size: int) -> None:
    """Write numbered lines until the file reaches ``size`` bytes (a ~1 MiB block repeated for big files)."""
    block = b""
    i = 0
    while len(block) < min(size, MB):
        block += (line(i) + "\n").encode()
        i += 1
    with path.open("wb") as f:
        for _ in range(max(1, size // len(block))):
            f.write(block)


def _append_cost(path: Path, repeat: int) -> float:
    """Median microseconds to read one appended line, the offset being at the end of the file."""
    reader = open_source(path, "bench", "jsonl")
    offset = offset_at_end(path)
    times = []
    for i in range(repeat):
        with path.open("a") as f:
            f.write(LOGS["jsonl"](10**6 + i) + "\n")
        start = time.perf_counter()
        found, offset = reader.read_new(offset)
        times.append(time.perf_counter() - start)
        assert len(found) == len(_logs(0)), "the appended line must be read, and only it"
    return statistics.median(times) * 1e6


def _throughput(path: Path, fmt: str) -> tuple[float, float, int]:
    """(MB, seconds, points) reading the whole file (all files of a run directory) once."""
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    start = time.perf_counter()
    found, _ = open_source(path, "bench", fmt).read_new(None)
    return sum(p.stat().st_size for p in files) / MB, time.perf_counter() - start, len(found)


def _trainer_state(path: Path, entries: int) -> Path:
    history = [{**_logs(i), "step": i} for i in range(1, entries + 1)]
    (path / "checkpoint-1").mkdir(parents=True)
    state = {"global_step": entries, "log_history": history}
    (path / "checkpoint-1" / "trainer_state.json").write_text(json.dumps(state, indent=2))
    return path


def _events(path: Path, size: int) -> Path:
    """A TensorBoard file written by the tensorboard package, its records repeated up to ``size`` bytes."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(path / "tb"))
    for i in range(1, 2001):
        values = [summary_pb2.Summary.Value(tag=f"train/{k}", simple_value=v) for k, v in _logs(i).items()]
        writer.add_event(event_pb2.Event(step=i, wall_time=1.7e9 + i, summary=summary_pb2.Summary(value=values)))
    writer.close()
    (source,) = (path / "tb").glob("events.out.tfevents.*")
    block = source.read_bytes()
    target = path / "events.out.tfevents.bench"
    with target.open("wb") as f:
        for _ in range(max(1, size // len(block))):
            f.write(block)
    return target


def run(quick: bool) -> Result:
    big, per_reader, repeat = (64 * MB, 4 * MB, 20) if quick else (1024 * MB, 32 * MB, 200)
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="rankinv-bench-") as tmp:
        base = Path(tmp)
        for label, size in (("1 KB", 1024), (f"{big // MB} MB", big)):
            path = base / f"append-{size}.jsonl"
            _fill(path, LOGS["jsonl"], size)
            rows.append([f"read 1 appended line, log of {label}", round(path.stat().st_size / MB, 3),
                         round(_append_cost(path, repeat), 1), "µs (median)"])
            path.unlink()
        for fmt, line in LOGS.items():
            path = base / f"t.{fmt}"
            _fill(path, line, per_reader)
            rows.append(_throughput_row(fmt, path, fmt))
            path.unlink()
        state = _trainer_state(base / "state", per_reader // 600)
        rows.append(_throughput_row("trainer_state", state, "trainer_state"))
        rows.append(_throughput_row("tensorboard", _events(base, per_reader), "tensorboard"))
    notes = [f"append cost: median of {repeat} appends, offset already at the end of the file",
             "throughput: one full read, parsing into canonical MetricPoints included"]
    return Result("ingest", ["measurement", "file MB", "value", "unit"], rows, notes)


def _throughput_row(label: str, path: Path, fmt: str) -> list[object]:
    size, seconds, points = _throughput(path, fmt)
    return [f"{label} reader ({points:,} points)", round(size, 1), round(size / seconds, 1), "MB/s"]
