"""``rankinv status`` on a fresh store (a cold scan) stores, field by field, what the daemon stores for the same root,
and the points the test itself wrote.

The one-shot scan takes shortcuts the daemon does not (records and offsets read once per scan, a new run's live
monitor fed as its points are queued, a log's last step peeked only when its read wrote nothing, no watch
listings). Oracles: the records this test wrote to each log (points, last step, offset at the end of the file),
and the store a real ``rankinv daemon`` builds for the same root with the same settings (run to its first full
pass and stopped): every table, rows keyed by run name, timestamps and row ids left out.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from rankinv.store import store_path_for
from tests.support import daemon as D
from tests.support.fakelog import append, make_run, record, settled_checkpoint

REALLOGS = Path(__file__).parent / "data" / "reallogs"
OSC52 = "\x1b]52;c;aGVsbG8=\x07"
TIMES = {"created_at", "updated_at", "time", "job_checked_at", "consumed_at", "next_at"}
SLURM_POLL = {"job_state", "job_node", "job_elapsed"}  # what the daemon asks Slurm (the scan never does)
STORED_AS = {"entropy": "entropy", "reward": "reward_mean", "frac_reward_zero_std": "frac_reward_zero_std"}  # TRL's


def _lines(run: Path, lines: list[dict[str, Any]]) -> None:
    append(run, "".join(json.dumps(line) + "\n" for line in lines))


def _root(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Runs of every shape the scan treats differently; returns the records written to each plain run's log."""
    written: dict[str, list[dict[str, Any]]] = {}
    for i in range(6):
        name = f"sweep/grpo-{i}"
        written[name] = [json.loads(record(s)) for s in range(1, 8 + 9 * i)]
        _lines(make_run(root / name), written[name])
    restart = [json.loads(record(s)) for s in [*range(1, 30), *range(12, 20)]]  # resumed from an earlier step
    written["restart"] = restart
    _lines(make_run(root / "restart"), restart)
    written["trailing"] = [json.loads(record(s)) for s in range(1, 6)]
    _lines(make_run(root / "trailing"), [*written["trailing"], {"step": 99, "time": 1.7e9, "logs": {}}])
    _lines(make_run(root / "steps-only"), [{"step": s, "logs": {}} for s in range(1, 5)])
    ahead = make_run(root / "checkpoint-ahead")
    settled_checkpoint(ahead / "checkpoint-7")
    _lines(ahead, [json.loads(record(s)) for s in range(1, 4)])
    make_run(root / "empty-log")
    bar = make_run(root / "bar-only")  # no point yet, a progress bar in its stdout: the step comes from the bar
    bars = (f"\r{n:3d}%|##   | {n}/120 [00:0{n}<00:10,  1.00it/s]" for n in (1, 2, 3))
    (bar / "train.log").write_text("".join(bars))
    sft = make_run(root / "sft", kind="SFT")
    parent = settled_checkpoint(sft / "checkpoint-5")
    _lines(sft, [json.loads(record(s)) for s in range(1, 5)])
    child = make_run(root / "child")
    (child / "rankinv-run.json").write_text(json.dumps({"kind": "GRPO", "parent": str(parent), "job_id": "4102"}))
    _lines(child, [json.loads(record(s)) for s in range(1, 40)])
    fifo = make_run(root / "fifo")
    _lines(fifo, [json.loads(record(s)) for s in range(1, 9)])
    os.mkfifo(fifo / "train.log")  # listed, never opened
    link = make_run(root / "link")
    _lines(link, [json.loads(record(s)) for s in range(1, 9)])
    (root.parent / "outside.jsonl").write_text(record(1))
    (link / "other.jsonl").symlink_to(root.parent / "outside.jsonl")  # refused: it leaves the root
    _lines(make_run(root / f"osc{OSC52}run"), [json.loads(record(s)) for s in range(1, 9)])
    for case in ("grpo-ls1", "grpo-resumed"):  # real TRL output: callback JSONL, stdout, trainer_state.json
        shutil.copytree(REALLOGS / case, root / "real" / case)
    return written


def _tables(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a store, rows sorted, run ids as run names, without timestamps, row ids and what only the
    daemon's Slurm poll writes; health: what a pass stores (not a daemon's heartbeat); events: the ingest notes."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        names = dict(conn.execute("SELECT id, name FROM runs"))
        out = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if c not in TIMES | SLURM_POLL and c != "id"]
            rows = [tuple(names.get(v, v) if c == "run_id" else v for c, v in zip(keep, r, strict=True))
                    for r in conn.execute(f"SELECT {', '.join(keep)} FROM {table}")]  # fmt: skip
            if table == "health":
                rows = [r for r in rows if r[0] in ("points_ingested", "judged_with")]
            if table == "events":
                rows = [r for r in rows if r[keep.index("kind")] == "ingest"]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "rankinv.toml"
    path.write_text('[daemon]\ntriage_executor = "callback"\n')  # as the scan runs it: no triage jobs started
    return path


def _daemon_store(root: Path, state: Path, config: Path, verdicts: int, *args: str) -> tuple[dict[str, list[Any]], str]:
    """The daemon's store after its first full pass, and ``rankinv status`` printed from it while it runs (``args``:
    more daemon options)."""
    proc = D.start(root, state, "--config", str(config), *args)
    try:
        D.wait_for(f"the daemon's {verdicts} verdicts", lambda: D.read(
            root, state, lambda s: len(s.verdicts(limit=10_000)) >= verdicts and s.health().values.get("judged_with")))
        shown = D.cli("status", str(root), "--state-dir", str(state), "--config", str(config))
        assert shown.returncode == 0, shown.stderr
    finally:
        assert D.stop(proc) == 0
    return _tables(store_path_for(root, state)), shown.stdout


def test_a_cold_scan_stores_what_the_daemon_stores_and_what_was_written(tmp_path: Path) -> None:
    root, config = tmp_path / "root", _config(tmp_path)
    written = _root(root)
    done = D.cli("status", str(root), "--state-dir", str(tmp_path / "scan"), "--config", str(config), timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    assert "outside the runs root" in done.stderr  # the symlink out of the root, refused with the reason
    scan = _tables(store_path_for(root, tmp_path / "scan"))

    ids = dict((r[0], r) for r in scan["runs"])  # name → the run's row (name, path, kind, …)
    cols = ["name", "path", "kind", "parent", "status", "error", "manifest", "job_id", "last_step"]
    for name, records in written.items():
        row = dict(zip(cols, ids[name], strict=False))
        points = {(STORED_AS[k], r["step"]): v for r in records for k, v in r["logs"].items()}  # a later one wins
        stored = {(m[1], m[2]): m[3] for m in scan["metrics"] if m[0] == name}
        assert stored == points, name
        assert row["status"] == "active" and row["last_step"] == records[-1]["step"], name
        log = root / name / "rankinv.jsonl"
        offset = next(json.loads(o[3]) for o in scan["offsets"] if o[0] == str(log))
        assert offset["position"] == log.stat().st_size, name
    by_name = {r[0]: dict(zip(cols, r, strict=False)) for r in scan["runs"]}
    assert by_name["child"]["job_id"] == "4102" and by_name["child"]["parent"] == str(root / "sft" / "checkpoint-5")
    assert by_name["checkpoint-ahead"]["last_step"] == 3 and by_name["steps-only"]["last_step"] is None
    assert by_name["bar-only"]["last_step"] == 3

    verdicts = len(scan["verdicts"])
    assert verdicts >= len(written) + 3  # every plain run, the child, the hostile name, the real runs
    daemon, shown = _daemon_store(root, tmp_path / "daemon", config, verdicts)
    for table in scan:
        assert scan[table] == daemon[table], table
    title, *table = done.stdout.splitlines()
    assert "one-shot scan" in title and "daemon running" in shown.splitlines()[0]
    assert shown.splitlines()[1:] == table  # the table printed from the daemon's store: the same characters
