"""Ingest cost: each reader against the plain standard-library loop parsing the same file, in the same process.

Rows (every ratio is baseline seconds / reader seconds, each the best of interleaved repeats — on a shared machine
the least disturbed run is the one that measures the code — so > 1 means the reader is
faster although it also names, steps and canonicalises every value; wall clock, and beside it the same ratio in
process CPU seconds, which other work on the machine disturbs less):

- callback JSONL vs a ``json.loads`` loop over its lines;
- TRL stdout (dict lines amid tqdm redraws) vs an ``ast.literal_eval`` loop over each line's dict;
- verl console vs a ``split(" - ")`` / ``rpartition(":")`` / ``float`` loop;
- ``trainer_state.json`` vs ``json.loads`` of the file;
- TensorBoard vs TensorBoard's own ``EventAccumulator`` keeping every scalar;
- the first read of a 1 GB Slurm ``.out`` (mostly generation-bar redraws), in a child process for its peak RSS;
- the cost of reading one appended line on a 1 KB and on a 1 GB log.

Every log is generated in a temporary directory at run time and deleted afterwards (never committed).
"""

from __future__ import annotations

import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from benchmarks import Result
from rankinv.ingest import open_source
from rankinv.ingest.tail import offset_at_end
from rankinv.metrics import FRAC_REWARD_ZERO_STD, REWARD_MEAN
from rankinv.store.binding import bound

FOLLOWED = ("entropy", REWARD_MEAN, FRAC_REWARD_ZERO_STD)  # what the daemon's live monitors follow (defaults)

MB = 1 << 20
BAR_TOTAL = 10**7


def _logs(i: int) -> dict[str, float]:
    names = ["loss", "grad_norm", "learning_rate", "entropy", "reward", "reward_std", "frac_reward_zero_std", "kl"]
    names += [f"completions/{s}_length" for s in ("mean", "min", "max")] + ["clip_ratio/region_mean", "epoch"]
    return {n: round(0.001 * i + j / 7, 6) for j, n in enumerate(names)}


def _bar(n: int, total: int = BAR_TOTAL, desc: str = "") -> str:
    pct = n * 100 // total
    return f"\r{desc}{pct:3d}%|{'█' * (pct // 10):<10}| {n}/{total} [01:02<3:04:05, 15.40it/s]"


def _stdout(i: int, redraws: int = 10) -> str:
    """One TRL logging call: training-bar redraws, the cleared line, the dict, the bar redrawn after it."""
    bars = "".join(_bar(i * redraws + k) for k in range(redraws))
    record = str({k: f"{v:.4g}" for k, v in _logs(i).items()})
    return f"{bars}\r{' ' * 40}\r{record}\n{_bar(i * redraws + redraws)}"


_SPEED = ", est. speed input: 1234.5 toks/s]"
_GENERATION = "".join(_bar(k, 256, "Processed prompts: ")[:-1] + _SPEED for k in range(200))


def _slurm(i: int) -> str:
    """A large Slurm log's logging call: 200 generation-bar redraws (vLLM's Processed prompts) per dict."""
    return f"{_GENERATION}\r{' ' * 80}\r{_stdout(i, 1)}"


def _verl(i: int) -> str:
    """A verl console line as verl prints it: NumPy 2 reprs for the metrics, plain numbers for lr and epoch."""
    pairs = [f"actor/{k}:np.float64({v})" for k, v in _logs(i).items()]
    pairs += ["actor/lr:1e-06", f"training/epoch:{i // 100}"]
    return f"(TaskRunner pid=7) step:{i} - " + " - ".join(pairs) + "\n"


LOGS: dict[str, Callable[[int], str]] = {  # one logging call of a TRL GRPO run, in each text format
    "jsonl": lambda i: json.dumps({"step": i, "time": 1.7e9 + i, "epoch": i / 100, "logs": _logs(i)}) + "\n",
    "pydict": _stdout,
    "verl_console": _verl,
    "openrlhf": lambda i: f"(PPOTrainer pid=7) INFO 12-01 12:00:00 ppo_trainer.py:551] ✨ Global step {i}: "
    + str({f"{k}": v for k, v in _logs(i).items()}) + "\n",
    "verl_jsonl": lambda i: json.dumps({"step": i, "data": {f"actor/{k}": v for k, v in _logs(i).items()}}) + "\n",
}



def _fill(path: Path, line: Callable[[int], str], size: int, *, repeat_block: bool = False) -> None:
    """Write logging calls numbered from 1 until the file reaches ``size`` bytes; ``repeat_block``: write a ~1 MiB
    block again and again instead (steps then go back at each repeat: only for the append cost)."""
    i, written = 1, 0
    with path.open("wb") as f:
        while written < size:
            parts, n = [], 0
            while n < min(size, MB):
                parts.append(line(i))
                n += len(parts[-1])
                i += 1
            block = "".join(parts).encode()
            for _ in range(max(1, size // len(block)) if repeat_block else 1):
                f.write(block)
                written += len(block)


def _json_loop(path: Path) -> int:
    with path.open("rb") as f:
        return sum(len(json.loads(line)) for line in f if line.strip())


def _literal_loop(path: Path) -> int:
    """The last ``\\r`` segment of each line that holds a dict, through ``ast.literal_eval``."""
    n = 0
    with path.open("rb") as f:
        for line in f:
            segment = line.rsplit(b"\r", 1)[-1].decode("utf-8", errors="replace")
            start = segment.find("{'")
            if start >= 0:
                n += len(ast.literal_eval(segment[start : segment.rfind("}") + 1]))
    return n


def _verl_loop(path: Path) -> int:
    n = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            values = {}
            for part in line.rstrip().split(" - ")[1:]:
                key, _, raw = part.rpartition(":")
                raw = raw.strip()
                values[key.strip()] = float(raw[raw.find("(") + 1 : -1] if raw.endswith(")") else raw)
            n += len(values)
    return n


def _state_loop(path: Path) -> int:
    return len(json.loads((path / "checkpoint-1" / "trainer_state.json").read_text())["log_history"])


def _accumulator(path: Path) -> int:
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(path), size_guidance={ea.SCALARS: 0})
    acc.Reload()
    return sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])


def _reader(path: Path, fmt: str) -> int:
    found, _ = open_source(path, "bench", fmt).read_new(None)
    return len(found)


def _reader_rows(path: Path, fmt: str) -> int:
    """The read and the rows the store binds for it (``executemany``'s parameters, each made and consumed as the
    statement consumes them; SQLite's own work left out, as the loop writes nothing)."""
    found, _ = open_source(path, "bench", fmt).read_new(None)
    rows = bound(1, found)
    deque(rows.rows, maxlen=0)
    return rows.size


def _reader_followed(path: Path, fmt: str) -> int:
    """:func:`_reader_rows` and the rows a run's live monitor is fed (its three metrics' points)."""
    found, _ = open_source(path, "bench", fmt).read_new(None)
    rows = bound(1, found)
    deque(rows.rows, maxlen=0)
    found.rows(FOLLOWED)
    return rows.size


def _timed(work: Callable[[], int]) -> tuple[float, float, int]:
    """(wall s, process CPU s, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


Timings = tuple[float, float, float, float, int, float, float, float]


def _side_by_side(path: Path, fmt: str, baseline: Callable[[Path], int], repeat: int) -> Timings:
    """(baseline s, reader s, baseline CPU s, reader CPU s, points, reader with rows s, its CPU s, with the
    monitor's rows too s): the best of ``repeat`` interleaved runs each."""
    base, mine, rows, fed, points = [], [], [], [], 0
    for _ in range(repeat):
        base.append(_timed(lambda: baseline(path)))
        mine.append(_timed(lambda: _reader(path, fmt)))
        rows.append(_timed(lambda: _reader_rows(path, fmt)))
        fed.append(_timed(lambda: _reader_followed(path, fmt)))
        points = mine[-1][2]
        assert rows[-1][2] == fed[-1][2] == points
    return (min(b[0] for b in base), min(m[0] for m in mine), min(b[1] for b in base), min(m[1] for m in mine),
            points, min(r[0] for r in rows), min(r[1] for r in rows), min(f[0] for f in fed))  # fmt: skip


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
    target = path / "tbcopy" / "events.out.tfevents.bench"
    target.parent.mkdir()
    with target.open("wb") as f:
        for _ in range(max(1, size // len(block))):
            f.write(block)
    return target


_FIRST_READ = """
import resource, sys, time
from rankinv.ingest import open_source
start = time.perf_counter()
found, offset = open_source(sys.argv[1], "bench", "pydict").read_new(None)
print(time.perf_counter() - start, len(found), offset.position, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _first_read(path: Path) -> tuple[float, int, int, float]:
    """(seconds, points, bytes read, peak RSS MB) of one first read, in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _FIRST_READ, str(path)], capture_output=True, text=True, check=True)
    seconds, points, position, rss_kb = out.stdout.split()
    return float(seconds), int(points), int(position), int(rss_kb) / 1024


def _append_cost(path: Path, repeat: int) -> float:
    """Median microseconds to read one appended line, the offset being at the end of the file."""
    reader = open_source(path, "bench", "jsonl")
    offset = offset_at_end(path)
    times = []
    for i in range(repeat):
        with path.open("a") as f:
            f.write(LOGS["jsonl"](10**6 + i))
        start = time.perf_counter()
        found, offset = reader.read_new(offset)
        times.append(time.perf_counter() - start)
        assert len(found) == len(_logs(0)), "the appended line must be read, and only it"
    return statistics.median(times) * 1e6


BASELINES: dict[str, tuple[str, Callable[[Path], int]]] = {
    "jsonl": ("json.loads loop over the lines", _json_loop),
    "verl_jsonl": ("json.loads loop over the lines", _json_loop),
    "pydict": ("ast.literal_eval loop over each line's dict", _literal_loop),
    "console": ("ast.literal_eval loop over each line's dict", _literal_loop),
    "openrlhf": ("ast.literal_eval loop over each line's dict", _literal_loop),
    "verl_console": ("split / rpartition / float loop", _verl_loop),
    "console_verl": ("split / rpartition / float loop", _verl_loop),
    "trainer_state": ("json.loads of the file", _state_loop),
    "tensorboard": ("EventAccumulator, every scalar kept", _accumulator),
}


READS = {"verl_jsonl": "jsonl", "console_verl": "console"}  # benchmark row → the reader (format) it runs


def run(quick: bool) -> Result:
    load = os.getloadavg()
    big, per_reader, repeat, appends = (64 * MB, 4 * MB, 5, 20) if quick else (1024 * MB, 32 * MB, 7, 200)
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="rankinv-bench-") as tmp:
        base = Path(tmp)
        paths: dict[str, Path] = {}
        for fmt, line in LOGS.items():
            paths[fmt] = base / f"t.{fmt}"
            _fill(paths[fmt], line, per_reader)
        paths["console"], paths["console_verl"] = paths["pydict"], paths["verl_console"]
        paths["trainer_state"] = _trainer_state(base / "state", per_reader // 600)
        paths["tensorboard"] = _events(base, per_reader)
        for fmt, path in paths.items():
            label, baseline = BASELINES[fmt]
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            size = sum(p.stat().st_size for p in files) / MB
            seconds, reader, base_cpu, reader_cpu, points, with_rows, rows_cpu, fed = _side_by_side(
                path, READS.get(fmt, fmt), baseline, repeat)  # fmt: skip
            ratios = [round(seconds / reader, 2), round(base_cpu / reader_cpu, 2), round(seconds / with_rows, 2),
                      round(base_cpu / rows_cpu, 2), round(seconds / fed, 2)]  # fmt: skip
            rows.append([f"{fmt} reader ({points:,} points, {size:.0f} MB) vs {label}", round(size / reader, 1),
                         round(size / seconds, 1), *ratios])  # fmt: skip
        slurm = base / "slurm-4242.out"
        _fill(slurm, _slurm, big)
        seconds, points, position, rss = _first_read(slurm)
        label = f"first read of a {slurm.stat().st_size / MB:,.0f} MB Slurm .out: {seconds:.1f} s, {points:,} points"
        rows.append([f"{label}, peak RSS {rss:.0f} MB", round(position / MB / seconds, 1), "", "", "", "", "", ""])
        for label, size in (("1 KB", 1024), (f"{big // MB} MB", big)):
            path = base / f"append-{size}.jsonl"
            _fill(path, LOGS["jsonl"], size, repeat_block=True)
            rows.append([f"read 1 appended line, log of {label}: {_append_cost(path, appends):.0f} µs (median)",
                         "", "", "", "", "", "", ""])  # fmt: skip
            path.unlink()
    notes = [f"ratio = baseline seconds / reader seconds, each the best of {repeat} interleaved runs in one process;"
             " ratio (CPU): the same with process CPU seconds (user + system)",
             "the reader's time includes steps, canonical names and every point's name, step and value (as decoded"
             " columns: MetricPoints are made when asked for); ratio (with rows): the read plus the rows the store"
             " binds for it (executemany's parameters, made and consumed; SQLite's own work left out), in wall and"
             " CPU seconds; with monitor rows: also the rows a live monitor is fed (its three metrics); the baseline"
             " only parses",
             f"append cost: median of {appends} appends, offset already at the end of the file",
             f"load average (1 min) at the start {load[0]:.1f}, at the end {os.getloadavg()[0]:.1f}"]  # fmt: skip
    columns = ["measurement", "reader MB/s", "baseline MB/s", "ratio", "ratio (CPU)", "ratio (with rows)",
               "ratio (with rows, CPU)", "ratio (with monitor rows)"]
    return Result("ingest", columns, rows, notes)
