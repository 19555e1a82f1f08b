"""A cold ``rankinv status`` on every real TRL log of the corpus and every hostile run at once stores and prints
what the daemon's full pass (the slow path: no shared listings, no records read once, nothing fed as queued) stores
and prints for the same root.

Oracle: the store a real ``rankinv daemon`` builds for the same root with the same settings, table by table (as in
``tests/test_status_cold.py``), and ``rankinv status`` printed from it while it runs, character for character.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rankinv.store import store_path_for
from tests.evil.roots import CASES
from tests.support import daemon as D
from tests.support.fakelog import settled_checkpoint
from tests.test_status_cold import REALLOGS, _config, _daemon_store, _tables


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Path]:
    """Every real run of ``tests/data/reallogs`` beside every hostile case, in one root. Each real run also once
    without the callback's JSONL (its stdout or TensorBoard is read) and once as a trainer's checkpoints alone (the
    state in ``checkpoint-N/``, one settled, one still being written), so every reader and layout counts."""
    root = tmp_path / "root"
    for case in sorted(REALLOGS.iterdir()):
        shutil.copytree(case, root / "real" / case.name, symlinks=True)
        shutil.copytree(case, root / "no-jsonl" / case.name, symlinks=True)
        (root / "no-jsonl" / case.name / "rankinv.jsonl").unlink()
        state = json.loads((case / "trainer_state.json").read_text())
        for step, settled in ((1, True), (state["global_step"], False)):
            folder = root / "checkpoints" / case.name / f"checkpoint-{step}"
            folder.parent.mkdir(parents=True, exist_ok=True)
            if settled:
                settled_checkpoint(folder)
            else:
                folder.mkdir()
                (folder / "config.json").write_text("{}")
            shutil.copy(case / "trainer_state.json", folder / "trainer_state.json")
    keep: list[socket.socket] = []
    for build, _expected in CASES.values():
        made = build(root)
        if isinstance(made, socket.socket):
            keep.append(made)  # the socket case stays bound while the root is scanned
    yield root
    for sock in keep:
        sock.close()


def test_a_cold_scan_of_the_real_and_hostile_corpus_equals_the_daemons_pass(corpus: Path, tmp_path: Path) -> None:
    config = _config(tmp_path)
    done = D.cli("status", str(corpus), "--state-dir", str(tmp_path / "scan"), "--config", str(config), timeout=180)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    scan = _tables(store_path_for(corpus, tmp_path / "scan"))
    real = {r[0] for r in scan["runs"] if r[0].split("/")[0] in ("real", "no-jsonl", "checkpoints")}
    assert real == {f"{how}/{case.name}" for case in REALLOGS.iterdir() for how in ("real", "no-jsonl", "checkpoints")}
    assert {m[0] for m in scan["metrics"]} >= real  # every real run read
    assert {c[0] for c in scan["checkpoints"]} >= {r for r in real if r.startswith("checkpoints/")}

    # polling: inotify cannot watch a folder whose name is not UTF-8 (the Latin-1 case), a scan reads it
    daemon, shown = _daemon_store(corpus, tmp_path / "daemon", config, len(scan["verdicts"]), "--poll")
    for table in scan:
        assert scan[table] == daemon[table], table
    assert shown.splitlines()[1:] == done.stdout.splitlines()[1:]  # the same table, from the daemon's store
