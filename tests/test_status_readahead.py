"""A cold ``rankinv status`` scan whose runs were fingerprinted, inspected and read by forked read-ahead workers stores
what the daemon stores for the same root, and prints the table the daemon's store prints.

The scan runs in this process with the read-ahead forced on (a small root is normally scanned without it) and waits,
before taking any run, until the workers have claimed every run, so every run it stores went through a worker's
answers. Oracles as in ``test_status_cold.py``: the store a real ``rankinv daemon`` builds for the same root (every
table, rows keyed by run name, timestamps and row ids left out) and the records this test wrote to each log.
"""

from __future__ import annotations

import io
import json
import logging
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon import cli_status, oneshot
from rankinv.daemon.readahead import FREE, ReadAhead
from rankinv.daemon.serve import plan

from rankinv.store import ReadStore, store_path_for
from tests.test_status_cold import STORED_AS, _config, _daemon_store, _root, _tables


def _claimed_first(monkeypatch: pytest.MonkeyPatch) -> list[ReadAhead]:
    """Read-ahead on for any root, with a worker even on a busy or one-core machine; each waits until its workers
    hold every run."""
    made: list[ReadAhead] = []
    init = ReadAhead.__init__

    def waiting(self: ReadAhead, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)
        deadline = time.monotonic() + 120
        while FREE in bytes(self.claims):
            assert time.monotonic() < deadline, "the workers did not claim every run"
            time.sleep(0.01)

    monkeypatch.setattr(ReadAhead, "__init__", waiting)
    monkeypatch.setattr(oneshot, "AHEAD_FROM", 1)
    monkeypatch.setattr(oneshot, "idle_cores", lambda: 1)
    return made


def test_a_scan_read_ahead_by_workers_stores_what_the_daemon_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    root, config = tmp_path / "root", _config(tmp_path)
    written = _root(root)
    made = _claimed_first(monkeypatch)
    p = plan(root, config, state_base=tmp_path / "scan")
    said = logging.StreamHandler(open(2, "w", closefd=False))  # noqa: SIM115 (fd 2: what capfd reads, the workers' too)
    logging.getLogger("rankinv").addHandler(said)
    try:
        assert oneshot.scan_once(p)
    finally:
        logging.getLogger("rankinv").removeHandler(said)
    assert len(made) == 1 and made[0].taken == len(made[0].index) == 19  # every run came from a worker
    assert "outside the runs root" in capfd.readouterr().err  # the refused symlink, said by the worker that saw it
    scan = _tables(store_path_for(root, tmp_path / "scan"))

    for name, records in written.items():
        points = {(STORED_AS[k], r["step"]): v for r in records for k, v in r["logs"].items()}
        assert {(m[1], m[2]): m[3] for m in scan["metrics"] if m[0] == name} == points, name
        log = root / name / "rankinv.jsonl"
        offset = next(json.loads(o[3]) for o in scan["offsets"] if o[0] == str(log))
        assert offset["position"] == log.stat().st_size, name

    with ReadStore.open(p.store_path) as store:
        snap = store.snapshot(events=10)
    printed = io.StringIO()
    with redirect_stdout(printed):
        cli_status.print_table(snap, p.root, running=False, scanned=True)
    daemon, shown = _daemon_store(root, tmp_path / "daemon", config, len(scan["verdicts"]))
    for table in scan:
        assert scan[table] == daemon[table], table
    assert printed.getvalue().splitlines()[1:] == shown.splitlines()[1:]  # the same rows, character for character
