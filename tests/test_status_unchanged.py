"""``rankinv status`` leaves unread the runs whose folders did not change, and prints what a full scan prints.

Oracles: a status over a fresh store (every run read and judged from scratch) for the table, and the test's own
list of what it changed on disk for which runs must be read again (a run the full path re-inspects gets its
record rewritten: its ``updated_at`` moves; one left unread keeps it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.support import daemon as D
from tests.support.fakelog import append, make_run, record, settled_checkpoint


def _status(root: Path, state: Path, *extra: str) -> dict[str, Any]:
    done = D.cli("status", str(root), "--json", "--state-dir", str(state), *extra)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _shown(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidates as printed, without row ids (a store that judged before keeps its history)."""
    return [{k: v for k, v in c.items() if k != "verdict_id"} for c in data["candidates"]]


def _touched(root: Path, state: Path) -> dict[str, float]:
    return D.read(root, state, lambda s: {r.name: r.updated_at for r in s.runs()})


def _log(run: Path, steps: range) -> None:
    append(run, "".join(record(s) for s in steps))


def _root(root: Path) -> dict[str, Path]:
    runs = {name: make_run(root / name) for name in ("plain-0", "plain-1", "append", "rewrite", "chmod", "sub",
                                                       "ckpt", "gone", "link", "fifo")}  # fmt: skip
    runs["sft"] = make_run(root / "sft", kind="SFT")
    for i, run in enumerate(runs.values()):
        _log(run, range(1, 20 + 5 * i))
    (runs["sub"] / "logs").mkdir()
    (runs["sub"] / "logs" / "notes.txt").write_text("not a log\n")
    settled_checkpoint(runs["ckpt"] / "checkpoint-5")
    outside = root.parent / "outside.jsonl"
    outside.write_text(record(1))
    (runs["link"] / "other.jsonl").symlink_to(outside)
    os.mkfifo(runs["fifo"] / "train.log")
    return runs


def test_an_unchanged_run_is_not_read_again_and_the_table_is_a_fresh_scans(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    runs = _root(root)
    first = _status(root, state)
    assert _shown(first) == _shown(_status(root, tmp_path / "fresh-0"))
    before = _touched(root, state)

    again = _status(root, state)  # nothing changed
    after = _touched(root, state)
    read_again = {n for n in before if after[n] != before[n]}
    assert read_again == {"link", "fifo", "sft"}  # a symlink, a FIFO, an SFT run: always read in full
    assert _shown(again) == _shown(first)

    _log(runs["append"], range(50, 53))
    text = (runs["rewrite"] / "rankinv.jsonl").read_text()
    (runs["rewrite"] / "rankinv.jsonl").write_text(text)  # the same bytes, written again
    (runs["chmod"] / "rankinv-run.json").chmod(0o600)
    (runs["sub"] / "logs" / "more.txt").write_text("still not a log\n")
    (runs["ckpt"] / "checkpoint-5" / "optimizer.pt").write_bytes(b"\0" * 64)
    for p in sorted(runs["gone"].iterdir()):
        p.unlink()
    runs["gone"].rmdir()
    _log(make_run(root / "new"), range(1, 30))
    third = _status(root, state)
    now = _touched(root, state)
    read_again = {n for n in now if now[n] != after.get(n)}
    assert read_again == {"append", "rewrite", "chmod", "sub", "ckpt", "gone", "new", "link", "fifo", "sft"}
    by_run = {c["run"]: c for c in third["candidates"]}
    assert by_run["append"]["step"] == 52 and by_run["gone"]["status"] == "vanished"  # as the daemon shows it
    kept = [c for c in _shown(third) if c["run"] != "gone"]  # (a fresh store never knew it)
    assert kept == _shown(_status(root, tmp_path / "fresh-1"))


def test_other_settings_read_every_run_again(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    for i in range(3):
        _log(make_run(root / f"grpo-{i}"), range(1, 30))
    _status(root, state)
    before = _touched(root, state)
    (tmp_path / "tau.toml").write_text("[monitor]\ntau_2 = 0.9\n")
    changed = _status(root, state, "--config", str(tmp_path / "tau.toml"))
    after = _touched(root, state)
    assert all(after[n] > before[n] for n in before)
    assert _shown(changed) == _shown(_status(root, tmp_path / "fresh", "--config", str(tmp_path / "tau.toml")))


def test_a_store_changed_behind_the_scan_reads_the_run_again(tmp_path: Path) -> None:
    """A daemon (here: a store write) that marked the run as failing: the scan does not trust its fingerprint."""
    from rankinv.store import Store, store_path_for

    root, state = tmp_path / "root", tmp_path / "state"
    for i in range(2):
        _log(make_run(root / f"grpo-{i}"), range(1, 30))
    _status(root, state)
    with Store.open(store_path_for(root, state)) as store:
        store.upsert_run("grpo-0", str(root / "grpo-0"), status="error", error="EIO")
    before = _touched(root, state)
    data = _status(root, state)
    after = _touched(root, state)
    assert {n for n in before if after[n] != before[n]} == {"grpo-0"}
    assert _shown(data) == _shown(_status(root, tmp_path / "fresh"))
