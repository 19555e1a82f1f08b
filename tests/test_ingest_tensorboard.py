"""TensorBoard event files written by the tensorboard package's own writer: every scalar, read incrementally."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

from rankinv.ingest import open_source, sources_for_run

N = 12_000  # above TensorBoard's default scalar reservoir (10,000): nothing may be sampled away


def scalar_event(step: int, tag: str, value: float) -> event_pb2.Event:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(step=step, wall_time=1.7e9 + step, summary=summary)


def tensor_event(step: int, tag: str, value: float) -> event_pb2.Event:
    """TF2 ``tf.summary.scalar`` style: a scalar tensor with the scalars plugin."""
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tensor = tensor_util.make_tensor_proto(value, dtype="float32")
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)])
    return event_pb2.Event(step=step, wall_time=1.7e9 + step, summary=summary)


def write(logdir: Path, events: list[event_pb2.Event]) -> Path:
    writer = EventFileWriter(str(logdir))
    try:
        for event in events:
            writer.add_event(event)
    finally:
        writer.close()
    (path,) = logdir.glob("events.out.tfevents.*")
    return path


@pytest.fixture(scope="module")
def event_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    logdir = tmp_path_factory.mktemp("run") / "runs" / "Jan01_host"
    events = [scalar_event(s, "train/entropy", 2.0 - s / N) for s in range(1, N + 1)]
    events += [tensor_event(s, "train/reward", s / 10) for s in range(1, 11)]
    events.append(scalar_event(N + 1, "train/kl", math.nan))
    return write(logdir, events)


def test_every_scalar_is_kept(event_file: Path) -> None:
    reader = open_source(event_file, "tb")
    assert reader.fmt == "tensorboard"
    found, offset = reader.read_new(None)
    entropy = {p.step: p.value for p in found if p.name == "entropy"}
    assert len(entropy) == N
    assert entropy[1] == pytest.approx(2.0 - 1 / N, rel=1e-6)  # float32 in the file
    assert entropy[N] == pytest.approx(1.0)
    reward = {p.step: p.value for p in found if p.name == "reward_mean"}
    assert reward == pytest.approx({s: s / 10 for s in range(1, 11)}, rel=1e-6)
    assert [math.isnan(p.value) for p in found if p.name == "kl"] == [True]
    assert {p.time for p in found if p.step == 5 and p.name == "entropy"} == {1.7e9 + 5}
    assert reader.read_new(offset)[0] == []


def test_incremental_partial_record_and_garbage(event_file: Path, tmp_path: Path) -> None:
    data = event_file.read_bytes()
    path = tmp_path / "events.out.tfevents.1.host"
    cut = len(data) - 7  # the last record (kl) is cut short
    path.write_bytes(data[:cut])
    reader = open_source(path, "tb")
    found, offset = reader.read_new(None)
    assert not [p for p in found if p.name == "kl"]
    assert len([p for p in found if p.name == "entropy"]) == N
    with path.open("ab") as f:
        f.write(data[cut:])
        f.write(b"\x00garbage that is not a record\xff" * 3)
    more = tmp_path / "more"
    extra = write(more, [scalar_event(N + 2, "train/entropy", 0.5)]).read_bytes()
    with path.open("ab") as f:
        f.write(extra)
    found, _ = reader.read_new(offset)
    assert [(p.step, p.name) for p in found] == [(N + 1, "kl"), (N + 2, "entropy")]


def test_run_directory_lists_event_files(event_file: Path) -> None:
    run = event_file.parents[2]
    assert [(s.path, s.fmt) for s in sources_for_run(run)] == [(event_file, "tensorboard")]


def test_without_the_extra_the_error_says_what_to_install(event_file: Path) -> None:
    code = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "from rankinv.cli import main\n"
        f"raise SystemExit(main(['metrics', {str(event_file)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "pip install 'rankinv[tensorboard]'" in proc.stderr
    assert "Traceback" not in proc.stderr
