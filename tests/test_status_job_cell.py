"""``rankinv status`` prints the job cell the TUI draws: after a kill, the job it aimed at and what it did
(``pid 4819 dry-kill``), however many actions came after it.

Real CLI subprocesses over a real TRL run's logs and a real SQLite store; the kill is written into the ledger as
the daemon writes one (``begin_action``). The oracle is the ledger row the test wrote (its target's pid and its
dry-run state, whose short name the README's job column documents), not the formatting code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from rankinv.tui.poller import read_rows

from rankinv.store import ReadStore, Store, store_path_for

RUN = Path(__file__).parent / "data" / "reallogs" / "grpo-ls1"


def _cli(*argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "rankinv", *argv], capture_output=True, text=True, check=True)
    return done.stdout


def test_status_and_the_tui_show_the_kill_in_the_job_column(tmp_path: Path) -> None:
    root, state = tmp_path / "runs", tmp_path / "state"
    for name in ("grpo-a", "grpo-b"):
        (root / name).mkdir(parents=True)
        for file in ("stdout.out", "trainer_state.json"):
            shutil.copy(RUN / file, root / name)
    status = ("status", str(root), "--state-dir", str(state))
    before = {c["run"]: c for c in json.loads(_cli(*status, "--json"))["candidates"]}
    assert before["grpo-a"]["job"] == "no job known" and before["grpo-a"]["kill"] is None
    with Store.open(store_path_for(root, state)) as store:
        store.begin_action("grpo-a", 1, "kill", target="process:4819:1712", dry_run=True, state="dry_run")
        for verdict in range(2, 252):  # more actions after it than a page of the ledger holds
            store.begin_action("grpo-b", verdict, "alert", target=None, dry_run=True, state="done")

    after = {c["run"]: c for c in json.loads(_cli(*status, "--json"))["candidates"]}
    assert after["grpo-a"]["job"] == "pid 4819 dry-kill"
    assert after["grpo-a"]["kill"] == {"target": "process:4819:1712", "state": "dry_run", "dry_run": True}
    assert after["grpo-b"]["job"] == "no job known" and after["grpo-b"]["kill"] is None
    table = _cli(*status)
    (row,) = [line for line in table.splitlines() if "grpo-a" in line and line.startswith("│")]
    assert row.rstrip("│ ").endswith("pid 4819 dry-kill")

    from rankinv.tui import format as fmt

    with ReadStore.open(store_path_for(root, state)) as store:
        snap = store.snapshot()
        rows = read_rows(store, snap)
    (a,) = [c for c in snap.candidates if c.run == "grpo-a"]
    assert str(fmt.job(a, rows.kills.get("grpo-a"))) == "pid 4819 dry-kill"  # the TUI's cell, the same text
