"""A cold ``rankinv status`` that hands many new runs to forked workers (:mod:`rankinv.daemon.scanpool`) stores and
prints what the scan alone (``[daemon] scan_workers = 1``) stores and prints for the same root; a worker that dies
leaves the run it was reading marked with the reason and every other run as the scan alone stores it.

Oracle: the scan alone on the same root — itself tested against the daemon's full pass in
``tests/test_status_cold.py`` and ``tests/test_status_cold_corpus.py`` — table by table (rows keyed by run name,
timestamps and row ids left out: ``_tables`` of those tests), its printed table character for character, and its
``oneshot-seen.json`` (what the next scan may leave unread). Roots: those tests' fixtures (real TRL logs, hostile
runs), with enough plain runs beside them to pass the cut-over, an SFT run with a triage report and two GRPO runs
started from its checkpoint, and (once) enough finished runs for the predictor to fit on its history.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon import scanpool
from rankinv.daemon.lock import DaemonLock
from rankinv.daemon.serve import plan
from rankinv.daemon.unchanged import FILE_NAME

from rankinv.store import Store, store_path_for
from rankinv.store.merge import JUDGED, NOT_COPIED, PER_RUN, REFUSED, MergeError, merge_runs
from tests.support import daemon as D
from tests.support.fakelog import append, make_run, record, settled_checkpoint
from tests.support.reports import make_report
from tests.test_status_cold import SLURM_POLL, TIMES, _root
from tests.test_status_cold import _tables as _by_run
from tests.test_status_cold_corpus import corpus  # noqa: F401 - a fixture

SPY = """
import sys
import rankinv.daemon.scanpool as pool
made = pool.ScanPool.__init__
def spied(self, scan, runs, children, state_dir):
    print(f"pool: {len(runs)} runs, {children} workers", file=sys.stderr)
    made(self, scan, runs, children, state_dir)
pool.ScanPool.__init__ = spied
from rankinv.cli import main
sys.argv = ["rankinv", *sys.argv[1:]]
sys.exit(main())
"""


def _tables(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    """As ``tests.test_status_cold._tables`` (rows by run name, no timestamps or row ids), and a checkpoint's id as
    its path: which checkpoint was stored first, and so its id, depends on which process read it."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        paths = dict(conn.execute("SELECT id, path FROM checkpoints"))
        cols = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})") if r[1] not in TIMES | SLURM_POLL | {"id"}]
                for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}  # fmt: skip
    finally:
        conn.close()
    out = {}
    for table, rows in _by_run(store).items():
        at = cols[table].index("checkpoint_id") if "checkpoint_id" in cols[table] else None
        out[table] = rows if at is None else sorted(
            ((*r[:at], paths.get(r[at], r[at]), *r[at + 1:]) for r in rows), key=repr)
    return out


def _plain(root: Path, count: int) -> None:
    for i in range(count):
        append(make_run(root / "many" / f"grpo-{i:04d}"), "".join(record(s) for s in range(1, 4 + i % 7)))


def _ladder(root: Path) -> None:
    """An SFT run whose checkpoint has a triage report, and GRPO runs started from it (their prediction uses the
    report, which may be another worker's to read)."""
    sft = make_run(root / "ladder" / "sft", kind="SFT")
    append(sft, "".join(record(s) for s in range(1, 5)))
    checkpoint = settled_checkpoint(sft / "checkpoint-4")
    make_report(checkpoint, [0, 1, 4, 8, 2, 0, 3, 8]).write(checkpoint / "rankinv-triage.json")
    for name in ("rl-a", "rl-b"):
        child = make_run(root / "ladder" / name)
        (child / "rankinv-run.json").write_text(json.dumps({"kind": "GRPO", "parent": str(checkpoint)}))
        append(child, "".join(record(s) for s in range(1, 30)))


def _finished(root: Path, count: int) -> None:
    """Runs that logged an eval pass@10: the predictor's history (``[predict] min_history`` is 5)."""
    for i in range(count):
        lines = [json.loads(record(s)) for s in range(1, 40)]
        lines.append({"step": 40, "time": 1.7e9 + 40, "logs": {"eval/pass@10": 0.3 + 0.1 * i}})
        append(make_run(root / "done" / f"grpo-done-{i}"), "".join(json.dumps(x) + "\n" for x in lines))


def _config(tmp_path: Path, workers: int) -> Path:
    path = tmp_path / f"workers-{workers}.toml"
    path.write_text(f'[daemon]\ntriage_executor = "callback"\nscan_workers = {workers}\n')
    return path


def _status(root: Path, state: Path, config: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", SPY, "status", str(root), "--state-dir", str(state), "--config",
                           str(config)], capture_output=True, text=True, env=D.env(), timeout=300,
                          stdin=subprocess.DEVNULL, check=False)  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return done


def _seen(root: Path, state: Path) -> dict[str, Any]:
    runs: dict[str, Any] = json.loads((store_path_for(root, state).parent / FILE_NAME).read_text())["runs"]
    return runs


def _both(root: Path, tmp_path: Path, workers: int = 2) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scan alone and the scan with workers on ``root``: each one's tables, printed lines and seen file."""
    alone = _status(root, tmp_path / "alone", _config(tmp_path, 1))
    shared = _status(root, tmp_path / "shared", _config(tmp_path, workers))
    assert "pool:" not in alone.stderr
    assert f"{workers} workers" in shared.stderr  # the workers really read the runs
    out = []
    for state, done in (("alone", alone), ("shared", shared)):
        out.append({"tables": _tables(store_path_for(root, tmp_path / state)), "shown": done.stdout.splitlines(),
                    "seen": _seen(root, tmp_path / state)})  # fmt: skip
    return out[0], out[1]


def _same(alone: dict[str, Any], shared: dict[str, Any]) -> None:
    assert alone["tables"].keys() == shared["tables"].keys()
    for table in alone["tables"]:
        assert shared["tables"][table] == alone["tables"][table], table
    assert shared["shown"] == alone["shown"]
    assert shared["seen"] == alone["seen"]


def test_workers_store_and_print_what_the_scan_alone_does(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _root(root)
    _ladder(root)
    _plain(root, scanpool.CUTOVER)
    alone, shared = _both(root, tmp_path)
    _same(alone, shared)
    tables = shared["tables"]
    names = {r[0] for r in tables["runs"]}
    assert {"ladder/sft", "ladder/rl-a", "many/grpo-0000", "real/grpo-ls1", "fifo", "link"} <= names
    assert len(tables["metrics"]) > 3 * scanpool.CUTOVER and tables["triage_reports"]  # something to compare
    rl = [line for line in shared["shown"] if "ladder/rl-" in line and "│" in line]  # the rows, not reasons
    assert len(rl) == 2 and all("2.45" in line for line in rl)  # headroom from the parent checkpoint's report


def test_with_a_fitted_history_the_scan_judges_again_what_workers_judged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _plain(root, scanpool.CUTOVER)
    _finished(root, 6)
    alone, shared = _both(root, tmp_path, workers=3)
    _same(alone, shared)
    assert sum(1 for r in shared["tables"]["metrics"] if r[1] == "eval/pass@10") == 6
    plain = [line for line in shared["shown"] if "many/grpo-" in line and "│" in line]
    assert len(plain) == scanpool.CUTOVER and all("fitted on 6 runs" in line for line in plain)


def test_workers_on_the_real_and_hostile_corpus(corpus: Path, tmp_path: Path) -> None:  # noqa: F811
    _plain(corpus, scanpool.CUTOVER)
    alone, shared = _both(corpus, tmp_path)
    _same(alone, shared)


# -- a worker that dies --------------------------------------------------------------------------------------------
def _scan(root: Path, state: Path, workers: int, patch: str = "none") -> dict[str, list[Any]]:
    """The scan in a process of its own (:mod:`tests.support.scan_driver`, cut-over 20 runs), so that its workers
    run whatever threads this pytest process holds; with ``workers`` > 1 they are checked to have started."""
    config = state.parent / f"{state.name}.toml"
    config.write_text(f'[daemon]\ntriage_executor = "callback"\nscan_workers = {workers}\n')
    done = subprocess.run([sys.executable, "-m", "tests.support.scan_driver", str(root), str(config), str(state),
                           patch], capture_output=True, text=True, env=D.env(), timeout=300,
                          stdin=subprocess.DEVNULL, check=False)  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    if patch == "no-fork":
        assert done.stderr.count("fork tried") == 1, done.stderr  # tried once, then the scan went on alone
    else:
        assert ("pool:" in done.stderr) == (workers > 1), done.stderr  # the workers really read the runs
    return _tables(store_path_for(root, state))


def _without(tables: dict[str, list[Any]], run: str) -> dict[str, list[Any]]:
    return {t: [r for r in rows if run not in r] for t, rows in tables.items() if t != "health"}


def _doomed_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    _plain(root, 60)
    append(make_run(root / "doomed"), "".join(record(s) for s in range(1, 9)))
    return root


def test_a_worker_killed_on_a_run_marks_that_run_and_loses_no_other(tmp_path: Path) -> None:
    root = _doomed_root(tmp_path)
    alone = _scan(root, tmp_path / "alone", 1)
    shared = _scan(root, tmp_path / "shared", 2, "kill-on-doomed")
    doomed = next(r for r in shared["runs"] if r[0] == "doomed")
    assert doomed[4] == "error" and "killed by signal 9 (SIGKILL)" in doomed[5], doomed
    assert not [m for m in shared["metrics"] if m[0] == "doomed"]
    assert _without(shared, "doomed") == _without(alone, "doomed")  # every other run, whichever worker read it
    assert len({r[0] for r in shared["runs"]}) == 61
    assert not list((tmp_path / "shared").rglob("oneshot-workers-*"))  # the workers' files are gone
    lock = DaemonLock(plan(root, None, state_base=tmp_path / "shared").state_dir)
    lock.acquire()  # no worker still holds the scan's lock: a daemon can start now
    lock.release()


def test_a_worker_killed_while_judging_leaves_its_runs_to_the_scan(tmp_path: Path) -> None:
    root = _doomed_root(tmp_path)
    alone = _scan(root, tmp_path / "alone", 1)
    shared = _scan(root, tmp_path / "shared", 2, "kill-judging-doomed")
    assert {t: r for t, r in shared.items() if t != "health"} == {t: r for t, r in alone.items() if t != "health"}
    assert dict(shared["health"]) == dict(alone["health"])  # the points the scan counts, and its fingerprint


def test_when_no_worker_can_be_started_the_scan_reads_every_run(tmp_path: Path) -> None:
    root = _doomed_root(tmp_path)
    alone = _scan(root, tmp_path / "alone", 1)
    shared = _scan(root, tmp_path / "shared", 2, "no-fork")
    assert shared == alone


# -- the merge ----------------------------------------------------------------------------------------------------
def test_the_merge_knows_every_table_of_the_schema(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store.sqlite") as store:
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"runs", "checkpoints", *PER_RUN, *JUDGED, *NOT_COPIED, *REFUSED}


def test_the_merge_refuses_rows_it_does_not_copy(tmp_path: Path) -> None:
    with Store.open(tmp_path / "worker.sqlite") as worker:
        worker.upsert_run("a", "/runs/a", kind="grpo")
        worker.conn.execute("INSERT INTO commands(kind, run, created_at) VALUES('ack', 'a', 0)")
    with Store.open(tmp_path / "store.sqlite") as store:
        with pytest.raises(MergeError, match="commands"):
            merge_runs(store, tmp_path / "worker.sqlite", judged=True)
        assert store.runs() == ()  # nothing copied


def test_the_merge_keeps_the_event_feed_as_long_as_the_store_does(tmp_path: Path) -> None:
    from rankinv.store.writes import EVENTS_KEPT

    with Store.open(tmp_path / "worker.sqlite") as worker:
        worker.upsert_run("a", "/runs/a", kind="grpo")
        rows = [(f"note {i}",) for i in range(EVENTS_KEPT + 150)]
        worker.conn.executemany("INSERT INTO events(time, level, kind, run, message) "
                                "VALUES(0, 'info', 'ingest', 'a', ?)", rows)  # fmt: skip
    with Store.open(tmp_path / "store.sqlite") as store:
        store.add_event("info", "ingest", "before", "b")
        assert merge_runs(store, tmp_path / "worker.sqlite", judged=True) == 1
        messages = [r[0] for r in store.conn.execute("SELECT message FROM events ORDER BY id")]
    assert len(messages) == EVENTS_KEPT and messages[-1] == f"note {EVENTS_KEPT + 149}"


def test_busy_cores_leave_the_scan_alone_and_a_stated_count_is_kept() -> None:
    """With ``scan_workers = 0`` the count is one per usable core (at most four), or 1 (the scan alone) when the load
    average leaves less than half a core free; a count the config states is used whatever the load."""
    from rankinv.config import Config, DaemonConfig

    cores = len(os.sched_getaffinity(0))
    auto, four = Config(), Config(daemon=DaemonConfig(scan_workers=4))
    assert scanpool.processes(auto, load=lambda: 0.0) == min(cores, scanpool.MAX_PROCESSES)
    assert scanpool.processes(auto, load=lambda: cores - 0.4) == 1
    assert scanpool.processes(auto, load=lambda: cores - 0.6) == min(cores, scanpool.MAX_PROCESSES)
    assert scanpool.processes(four, load=lambda: 100.0) == 4
