"""The SQLite store: schema, idempotent writes, snapshots, readers, recovery — all on real files."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rankinv.messages import Command, CommandKind, Reason
from rankinv.store import LATEST_VERSION, CommandChannel, ReadStore, Store, StoreError, schema_version, store_path_for
from rankinv.store.paths import root_key
from rankinv.store.writes import VerdictWrite, Writes
from rankinv.triage.digest import summarize
from tests.support.reports import make_report

REASON = Reason("entropy drop", 0.6, 0.5, ">", 10, 150, "watch")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "store.sqlite")
    yield s
    s.close()


def _seed(s: Store) -> None:
    s.upsert_run("sft-a", "/runs/sft-a", kind="sft")
    s.upsert_checkpoint("sft-a", "/runs/sft-a/checkpoint-10", 10, True)
    s.upsert_checkpoint("sft-a", "/runs/sft-a/checkpoint-20", 20, True)
    s.upsert_checkpoint("sft-a", "/runs/sft-a/checkpoint-30", 30, False, "weights still being written")
    s.upsert_run("grpo-b", "/runs/grpo-b", kind="grpo", parent="/runs/sft-a/checkpoint-20", last_step=40)


def test_schema_is_created_and_versioned(store: Store, tmp_path: Path) -> None:
    assert schema_version(store.conn) == LATEST_VERSION
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "checkpoints", "metrics", "triage_reports", "predictions", "verdicts", "actions",
            "commands", "offsets", "events", "health", "monitor"} <= tables
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    again = Store.open(tmp_path / "store.sqlite")  # migrating twice is a no-op
    assert schema_version(again.conn) == LATEST_VERSION
    again.close()


def test_metrics_never_duplicate_and_nan_round_trips(store: Store) -> None:
    store.upsert_run("r", "/r", kind="grpo")
    store.add_metrics("r", [(1, "entropy", 1.0, None), (2, "entropy", float("nan"), None)])
    store.add_metrics("r", [(1, "entropy", 0.9, None)])  # re-read after a restart: replaces
    series = store.series("r")["entropy"]
    assert series.steps == (1, 2)
    assert series.values[0] == 0.9
    assert math.isnan(series.values[1])
    assert store.metric_count("r") == 2


def test_last_step_follows_the_log(store: Store) -> None:
    store.upsert_run("r", "/r", kind="grpo", last_step=1)
    store.add_metrics("r", [(5, "entropy", 1.0, None), (6, "entropy", 0.9, None)])
    assert store.run("r").last_step == 6
    store.add_metrics("r", [(3, "entropy", 1.0, None)])  # resumed from an earlier checkpoint
    assert store.run("r").last_step == 3


def test_ingest_writes_points_and_offset_atomically(store: Store) -> None:
    store.upsert_run("r", "/r")
    with pytest.raises(RuntimeError), store.transaction():
        store.ingest("r", "/r/log", "jsonl", {"offset": 10}, [(1, "reward_mean", 0.5, None)])
        raise RuntimeError("crash before commit")
    assert store.metric_count("r") == 0
    assert store.offset("/r/log") is None
    store.ingest("r", "/r/log", "jsonl", {"offset": 10}, [(1, "reward_mean", 0.5, None)])
    assert json.loads(store.offset("/r/log") or "{}") == {"offset": 10}


def test_verdicts_grow_with_decisions_not_cycles(store: Store) -> None:
    store.upsert_run("r", "/r", kind="grpo")
    first, new, previous = store.put_verdict("r", None, step=10, decision="WATCH", confidence=0.5, stage="2",
                                             summary="entropy falling", reasons=[REASON])
    assert new and previous is None
    again = store.put_verdict("r", None, step=20, decision="WATCH", confidence=0.6, stage="2",
                              summary="entropy falling", reasons=[])
    assert again == (first, False, "WATCH")
    kill, new, previous = store.put_verdict("r", None, step=150, decision="KILL", confidence=0.9, stage="2",
                                            summary="entropy drop 0.64 > 0.50", reasons=[])
    assert new and kill != first and previous == "WATCH"
    assert [v.decision for v in store.verdicts("r")] == ["KILL", "WATCH"]
    assert store.latest_verdict("r").step == 150


def test_an_action_happens_at_most_once_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store.open(path) as s:
        s.upsert_run("r", "/r", kind="grpo")
        vid = s.put_verdict("r", None, step=1, decision="KILL", confidence=1, stage="2", summary="x", reasons=[]).id
        aid, created = s.begin_action("r", vid, "kill", target="123", dry_run=False, state="signalled")
        assert created
    with Store.open(path) as s:
        again, created = s.begin_action("r", vid, "kill", target="123", dry_run=False, state="planned")
        assert (again, created) == (aid, False)
        s.update_action(aid, state="cancelled", audit="run r step 1: … → KILL job 123 (scancel ok)", attempts=1)
        (action,) = s.actions("r")
        assert (action.state, action.attempts, action.target) == ("cancelled", 1, "123")
        assert action.audit.endswith("(scancel ok)")


def test_commands_queue(store: Store) -> None:
    with CommandChannel.open(store.path) as channel:
        cid = channel.send(Command(CommandKind.PIN, "r"), source="tui")
        (cmd,) = store.pending_commands()
        assert (cmd.id, cmd.kind, cmd.run, cmd.command, cmd.source) == (cid, "pin", "r", Command(CommandKind.PIN, "r"),
                                                                        "tui")  # fmt: skip
        assert channel.result(cid) is None
        store.finish_command(cid, "ok: pinned")
        assert store.pending_commands() == () and channel.result(cid) == "ok: pinned"


def test_snapshot_ranks_candidates(store: Store) -> None:
    _seed(store)
    report = make_report("/runs/sft-a/checkpoint-20", [0, 0, 1, 16, 16, 2, 0, 3])
    store.put_triage_report("/runs/sft-a/checkpoint-20", report, replace(summarize(report), flagged=True, entropy=0.12))
    store.put_prediction("sft-a", "/runs/sft-a/checkpoint-10", step=10, value=0.8, lo=0.7, hi=0.9, basis="prior")
    store.put_prediction("sft-a", "/runs/sft-a/checkpoint-20", step=20, value=0.5, lo=0.4, hi=0.6, basis="prior")
    store.put_prediction("grpo-b", None, step=40, value=0.6, lo=0.5, hi=0.7, basis="fitted")
    store.put_monitor("grpo-b", step=40, entropy=0.3, entropy_drop=0.4, zero_std_fraction=0.7)
    snap = store.snapshot()
    assert [c.subject for c in snap.candidates] == [
        "sft-a@/runs/sft-a/checkpoint-10", "grpo-b", "sft-a@/runs/sft-a/checkpoint-20",
    ]  # checkpoint-30 is incomplete: not a candidate yet
    ck20 = snap.candidates[2]
    assert (ck20.pre_rl_entropy, ck20.flagged, ck20.triage_state) == (0.12, True, "done")
    grpo = snap.candidates[1]
    assert grpo.pre_rl_entropy == 0.12  # inherited from the parent checkpoint's triage
    assert (grpo.live_entropy, grpo.entropy_drop, grpo.basis) == (0.3, 0.4, "fitted")


def test_readers_see_commits_through_data_version(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    writer = Store.open(path)
    reader = ReadStore.open(path)
    try:
        before = reader.data_version()
        writer.upsert_run("r", "/r")
        assert reader.data_version() != before
        assert reader.run("r") is not None
        assert not hasattr(reader, "upsert_run") and not hasattr(reader, "transaction")
    finally:
        reader.close()
        writer.close()


def test_the_reader_type_has_no_write_method() -> None:
    writes = {name for name in vars(Writes) if not name.startswith("_")}
    assert {"upsert_run", "put_verdict", "finish_command", "transaction"} <= writes
    assert not writes & set(dir(ReadStore)), "a ReadStore holder must write only through the CommandChannel"
    assert not writes & set(dir(CommandChannel))


def test_readonly_open_of_missing_store_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="rankinv daemon"):
        ReadStore.open(tmp_path / "nope.sqlite")


def test_corrupt_store_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    s = Store.open(path)
    try:
        assert s.recovered_from is not None and s.recovered_from.exists()
        assert b"not a database" in s.recovered_from.read_bytes()
        s.upsert_run("r", "/r")
        assert s.run("r") is not None
    finally:
        s.close()


def test_health_heartbeat(store: Store) -> None:
    assert not store.health().alive
    store.set_health(pid=os.getpid(), heartbeat=time.time(), watch_mode="inotify")
    health = store.health()
    assert health.alive and health.get("watch_mode") == "inotify"


def test_store_path_is_per_root_and_host(tmp_path: Path) -> None:
    a = store_path_for(tmp_path / "runs-a", base=tmp_path / "state")
    b = store_path_for(tmp_path / "runs-b", base=tmp_path / "state")
    assert a != b and a.parent.parent == tmp_path / "state" / "roots"
    assert root_key(tmp_path / "runs-a").startswith("runs-a-")


WRITER = """
import sys
from rankinv.store import Store
s = Store.open(sys.argv[1])
s.upsert_run("r", "/r")
batch = 0
while True:
    points = [(batch * 10 + i, "entropy", 1.0 / (1 + batch), None) for i in range(10)]
    s.ingest("r", "/r/log", "jsonl", {"batches": batch + 1}, points)
    batch += 1
    if batch == 3:
        print("ready", flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_kill_9_mid_ingest_loses_nothing_and_duplicates_nothing(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(delay)  # where the kill lands varies; the invariant must hold wherever it does
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with Store.open(path) as s:
        assert s.recovered_from is None
        batches = json.loads(s.offset("/r/log") or "{}")["batches"]
        assert batches >= 3
        assert s.metric_count("r") == batches * 10


def _selects(store: Store) -> list[str]:
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    return seen


def _refresh(store: Store, step: int, decision: str = "WATCH") -> VerdictWrite:
    return store.put_verdict("r", None, step=step, decision=decision, confidence=0.5, stage="2",
                             summary=f"{decision}: entropy falling", reasons=[])  # fmt: skip


def test_refreshing_the_latest_verdict_reads_it_from_the_last_write_not_the_table(store: Store) -> None:
    """The daemon refreshes one verdict per judgement: after the first, no SELECT of the latest row, and the
    table still holds one row per decision with the newest step (read back from the table)."""
    store.upsert_run("r", "/r", kind="grpo")
    first = _refresh(store, 1).id
    statements = _selects(store)
    for step in range(2, 6):
        assert _refresh(store, step) == (first, False, "WATCH")
    store.conn.set_trace_callback(None)
    assert not [s for s in statements if "SELECT" in s and "verdicts" in s]
    assert [(v.id, v.step) for v in store.verdicts("r")] == [(first, 5)]


def test_a_verdict_row_deleted_or_rolled_back_is_not_refreshed_from_memory(store: Store) -> None:
    store.upsert_run("r", "/r", kind="grpo")
    first = _refresh(store, 1).id
    with store.transaction() as conn:  # the row goes (as when its run is removed): a new one is written
        conn.execute("DELETE FROM verdicts WHERE id = ?", (first,))
    second, new, previous = _refresh(store, 2)
    assert new and previous is None and [(v.id, v.step) for v in store.verdicts("r")] == [(second, 2)]
    with pytest.raises(RuntimeError), store.transaction():  # a KILL written then rolled back
        _refresh(store, 3, "KILL")
        raise RuntimeError("the batch failed")
    assert _refresh(store, 4) == (second, False, "WATCH")  # WATCH is still the latest: refreshed, not a new row
    with store.transaction():
        with pytest.raises(RuntimeError), store.savepoint():
            _refresh(store, 5, "KILL")
            raise RuntimeError("one run failed")
        kill, new, previous = _refresh(store, 6, "KILL")
    assert kill != second and previous == "WATCH"  # the KILLs rolled back were never the previous decision
    assert new and [(v.decision, v.step) for v in store.verdicts("r")] == [("KILL", 6), ("WATCH", 4)]
