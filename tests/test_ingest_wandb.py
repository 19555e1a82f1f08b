"""W&B run files (``wandb/offline-run-*/run-*.wandb``) written by real wandb in offline mode, read with its protos.

Oracles: the same TRL run's ``trainer_state.json`` (read with :mod:`json`) for the corpus file transformers' own
WandbCallback wrote (``tests/data/reallogs/grpo-wandb-offline``), and the values a test itself hands to
``wandb.log`` in a subprocess (``WANDB_MODE=offline``: no network).
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rankinv.errors import RankinvError
from rankinv.ingest import START, Offset, open_source, sources_for_run
from rankinv.ingest.primary import primary_source
from rankinv.metrics import canonical_name
from rankinv.store import Store

pytest.importorskip("wandb")
CASE = Path(__file__).parent / "data" / "reallogs" / "grpo-wandb-offline"
RUN_FILE = next(CASE.glob("wandb/offline-run-*/run-*.wandb"))
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss")


def state_points() -> dict[tuple[int, str], float]:
    history = json.loads((CASE / "trainer_state.json").read_text())["log_history"]
    out = {}
    for entry in history:
        if "train_runtime" in entry:
            continue  # the end-of-training summary goes to the W&B run summary, not to its history
        for key, value in entry.items():
            if key != "step" and not (key == "epoch" and any(k.startswith("eval_") for k in entry)):
                out[(entry["step"], canonical_name(key))] = float(value)
    return out


def read(path: Path) -> dict[tuple[int, str], float]:
    found, _ = open_source(path, "w").read_new(START)
    return {(p.step, p.name): p.value for p in found}


def test_the_offline_run_file_holds_every_logged_value_at_its_step() -> None:
    want, got = state_points(), read(RUN_FILE)
    assert len(want) > 100 and {s for s, _ in want} == {2, 4, 6, 8}
    assert {k: got.get(k) for k in want} == want  # exact: W&B keeps full precision
    assert {s for s, n in got if n == "eval/loss"} == {4, 8}
    assert not any(n.startswith(("profiling/", "_")) for _, n in got)


def test_a_run_directory_with_stdout_and_a_wandb_folder_reads_the_wandb_file(tmp_path: Path) -> None:
    from rankinv.discovery import discover

    run = tmp_path / "run"
    shutil.copytree(CASE / "wandb", run / "wandb")
    assert [(r.name, r.kind) for r in discover(tmp_path)] == [("run", "GRPO")]  # the kind from W&B's names alone
    shutil.copy(CASE / "stdout.out", run / "slurm-8.out")
    assert [(s.path.name, s.fmt) for s in primary_source(sources_for_run(run))] == [(RUN_FILE.name, "wandb")]


def test_reading_while_wandb_writes_gives_the_same_points(tmp_path: Path) -> None:
    """The file grown in random pieces (records cut anywhere, across 32 KiB blocks), read after each."""
    data = RUN_FILE.read_bytes()
    assert len(data) > 2 * 32 * 1024
    log = tmp_path / "run-x.wandb"
    log.write_bytes(b"")
    reader = open_source(log, "w")
    rng, offset, pos, found = random.Random(3), START, 0, []
    while pos < len(data):
        size = rng.randint(1, 9000)
        with log.open("ab") as f:
            f.write(data[pos : pos + size])
        pos += size
        new, offset = reader.read_new(offset)
        found.extend(new)
    assert [(p.step, p.name, p.value) for p in found] == [
        (p.step, p.name, p.value) for p in open_source(RUN_FILE, "w").read_new(START)[0]
    ]
    assert offset.position == log.stat().st_size and Offset.from_json(offset.to_json()) == offset


WRITER = """
import math, sys, wandb
run = wandb.init(project="t", mode="offline", dir=sys.argv[1], settings=wandb.Settings(x_disable_stats=True))
for step in range(1, 41):
    run.log({"entropy": 2.0 / step, "reward": step / 40, "kl": math.nan if step == 7 else 1e-4 * step,
             "media": wandb.Histogram([1, 2, 3]) if step == 3 else 0.5}, step=step * 10)
run.finish()
"""


def test_values_handed_to_wandb_log_come_back_at_their_steps(tmp_path: Path) -> None:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
    subprocess.run([sys.executable, "-c", WRITER, str(tmp_path)], check=True, env=env, timeout=120,
                   capture_output=True)  # fmt: skip
    (path,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    got = read(path)
    for step in range(1, 41):
        assert got[(step * 10, "entropy")] == 2.0 / step
        assert got[(step * 10, "reward_mean")] == step / 40
        if step != 3:
            assert got[(step * 10, "media")] == 0.5
    assert math.isnan(got[(70, "kl")]) and got[(80, "kl")] == 1e-4 * 8
    assert (30, "media") not in got  # a histogram is not a metric


def test_without_the_wandb_extra_the_run_is_read_from_its_other_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rankinv.daemon.pipeline.ingest import Ingestor

    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed: importing it fails
    run = tmp_path / "run"
    shutil.copytree(CASE / "wandb", run / "wandb")
    shutil.copy(CASE / "stdout.out", run / "slurm-8.out")
    store = Store.open(tmp_path / "store.sqlite")
    store.upsert_run("run", str(run), kind="grpo")
    ingestor = Ingestor(store)
    assert [s.fmt for s in ingestor.refresh("run", run)] == ["pydict"]
    assert ingestor.ingest_run("run", run) > 0
    assert store.series("run")["loss"].steps == (2, 4, 6, 8)
    ingestor.refresh("run", run)
    notes = [e.message for e in store.events() if e.kind == "ingest"]
    assert notes == [f"{RUN_FILE.name} not read (wandb needs the wandb package: pip install 'rankinv[wandb]'); "
                     "reading the run's other logs"]  # fmt: skip
    store.close()
    with pytest.raises(RankinvError, match=r"rankinv\[wandb\]"):
        open_source(RUN_FILE, "w")


def test_a_file_that_is_not_a_wandb_run_file_gets_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rankinv.cli import main

    junk = tmp_path / "wandb" / "offline-run-1" / "run-1.wandb"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"\x1b]52;c;aGk=\x07 not a run file" * 10)
    assert main(["metrics", str(junk)]) != 0
    err = capsys.readouterr().err
    assert "not a W&B run file" in err and "\x1b" not in err and "Traceback" not in err
    shutil.copy(CASE / "stdout.out", tmp_path / "slurm-8.out")
    assert [s.fmt for s in primary_source(sources_for_run(tmp_path))] == ["pydict"]  # the junk is not a source


def test_damaged_and_truncated_files_are_read_around_the_damage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(RUN_FILE.read_bytes())
    whole = read(RUN_FILE)
    data[25000] ^= 0xFF  # inside the step-4 row, in the first 32 KiB block
    damaged = tmp_path / "run-d.wandb"
    damaged.write_bytes(bytes(data))
    got = read(damaged)
    assert got and set(got) < set(whole) and all(whole[k] == v for k, v in got.items())
    assert (2, "loss") in got and (4, "loss") not in got
    assert (6, "loss") in got and (8, "loss") in got  # the records after the damaged block are still read
    assert "damaged chunk" in caplog.text
    cut = tmp_path / "run-t.wandb"
    cut.write_bytes(RUN_FILE.read_bytes()[:50001])  # a job killed mid-write
    partial = read(cut)
    assert (2, "loss") in partial and all(whole[k] == v for k, v in partial.items()) and (8, "loss") not in partial


def test_random_bytes_after_a_valid_header_never_crash_the_reader(tmp_path: Path) -> None:
    head = RUN_FILE.read_bytes()[:7]
    rng = random.Random(11)
    for i in range(200):
        path = tmp_path / f"run-{i}.wandb"
        body = bytearray(rng.randbytes(rng.randint(0, 70000)))
        if i % 2:  # plausible chunk headers: FULL chunks of random length and CRC
            for at in range(0, len(body) - 7, 997):
                body[at + 4 : at + 7] = bytes((rng.randint(0, 255), rng.randint(0, 127), 1))
        path.write_bytes(head + bytes(body))
        found, offset = open_source(path, "w").read_new(START)
        assert offset.position <= path.stat().st_size
        assert all(isinstance(p.value, float) for p in found)


@pytest.mark.timeout(30)
def test_a_sparse_hole_is_skipped_block_by_block_and_the_records_after_it_are_read(tmp_path: Path) -> None:
    """64 MiB of NULs (a preallocated or sparse file) between the start of a run file and its last block."""
    data = RUN_FILE.read_bytes()
    hole = 64 << 20
    path = tmp_path / "run-s.wandb"
    with path.open("wb") as f:
        f.write(data[:65536])
        f.seek(65536 + hole)  # a hole: the file system stores no bytes for it
        f.write(data[65536:])
    got, whole = read(path), read(RUN_FILE)
    eval_after = {k for k in whole if k[0] == 8 and k[1].startswith("eval/")}  # the row in the last block
    assert eval_after and eval_after <= set(got)
    assert all(whole[k] == v for k, v in got.items())


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["inotify", "polling"])
def test_the_daemon_follows_a_wandb_run_file_as_it_grows(tmp_path: Path, mode: str) -> None:
    """A real daemon: the run folder under wandb/ is watched, so appended rows arrive long before a rescan."""
    from tests.support import daemon as D

    root, state = tmp_path / "root", tmp_path / "state"
    live = root / "grpo" / RUN_FILE.relative_to(CASE)
    live.parent.mkdir(parents=True)
    data = RUN_FILE.read_bytes()
    live.write_bytes(data[:30000])  # the rows of steps 2 and 4, then half a record
    config = tmp_path / "rankinv.toml"
    config.write_text('[daemon]\nrescan_seconds = 3600\ntriage_executor = "none"\nevaluate_seconds = 0.5\n')
    proc = D.start(root, state, "--config", str(config), *(["--poll"] if mode == "polling" else []))
    try:
        D.wait_for("steps 2 and 4", lambda: D.read(root, state, lambda st: {2}
                   <= set(st.series("grpo")["loss"].steps)), timeout=60)  # fmt: skip
        with live.open("ab") as f:
            f.write(data[30000:])
        want = state_points()
        got = D.wait_for("step 8", lambda: (m := D.read(root, state, lambda st: D.metrics(st, "grpo")))
                         and ("loss", 8) in m and m, timeout=30)  # fmt: skip
        assert all(got[(n, s)] == v for (s, n), v in want.items())
    finally:
        assert D.stop(proc) == 0


def test_hostile_records_inside_valid_framing_are_skipped(tmp_path: Path) -> None:
    """Well-framed chunks whose records are junk: deep JSON, an undecodable protobuf, a negative step."""
    import struct
    import zlib

    from wandb.proto import wandb_internal_pb2 as pb

    def chunk(payload: bytes) -> bytes:
        return struct.pack("<IHB", zlib.crc32(payload, zlib.crc32(b"\x01")) & 0xFFFFFFFF, len(payload), 1) + payload

    def row(step: int, **values: str) -> bytes:
        record = pb.Record()
        record.history.step.num = step
        for key, value in values.items():
            item = record.history.item.add()
            item.nested_key.append(key)
            item.value_json = value
        return record.SerializeToString()

    body = [row(1, entropy="[" * 10_000 + "]" * 10_000), b"\xff\xff\xff", row(-5, entropy="0.5"),
            row(3, entropy="0.25", kl="NaN")]  # fmt: skip
    assert all(len(b) < 32_000 for b in body)  # each one FULL chunk of the first block
    path = tmp_path / "run-h.wandb"
    path.write_bytes(RUN_FILE.read_bytes()[:7] + b"".join(chunk(b) for b in body))
    got = read(path)
    assert got[(3, "entropy")] == 0.25 and math.isnan(got[(3, "kl")])
    assert {s for s, _ in got} == {3}


def test_metrics_on_a_run_without_wandb_notes_the_unread_file_and_reads_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rankinv.cli import main

    monkeypatch.setitem(sys.modules, "wandb", None)
    run = tmp_path / "run"
    shutil.copytree(CASE / "wandb", run / "wandb")
    shutil.copy(CASE / "stdout.out", run / "slurm-8.out")
    assert main(["metrics", str(run), "--name", "entropy"]) == 0
    captured = capsys.readouterr()
    assert f"{RUN_FILE.name} not read" in captured.err and "rankinv[wandb]" in captured.err
    assert "slurm-8.out" in captured.out
