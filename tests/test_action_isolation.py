"""One run's poisoned action never stops the escalator for the others.

A ledger row that cannot be decoded (hand-edited or corrupt JSON) or whose fields have the wrong type used to
raise out of ``Escalator.tick`` on every daemon loop — and again after every restart. Now the bad row is left
out (or ended with an alert) while a healthy run in the same store is still stopped: a real process running
the TRL callback's own code, really signalled.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rankinv.daemon.actions import ledger as L
from rankinv.daemon.actions.escalate import Escalator, KillRequest
from rankinv.daemon.actions.ledger import ActionKey, ActionState, StoreLedger
from rankinv.daemon.actions.slurm import Slurm

from rankinv.config import ActionsConfig
from rankinv.store import Store
from tests.support import daemon as D
from tests.support.slurm_cluster import wait_for


@pytest.fixture
def genuine(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    signals = tmp_path / "signals.log"
    proc = subprocess.Popen([sys.executable, "-m", "tests.evil.evidence.trainer", str(tmp_path / "genuine"),
                             str(signals)], env=D.env(), stdin=subprocess.DEVNULL)  # fmt: skip
    wait_for(lambda: signals.exists() and "logged" in signals.read_text(), "the trainer to log")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def poison(store: Store, run: str, state: str, detail: str) -> None:
    """An open action whose stored detail is then corrupted, as a hand edit or a bad disk would."""
    StoreLedger(store).put(ActionState(ActionKey(run, 1), state, time.time(), time.time(), run_dir=f"/x/{run}",
                                       target="process:999999:1", armed=True))  # fmt: skip
    store.conn.execute(
        "UPDATE actions SET detail = ? WHERE run_id = (SELECT id FROM runs WHERE name = ?)", (detail, run)
    )


def test_poisoned_ledger_rows_never_stop_the_healthy_kill(
    tmp_path: Path, genuine: subprocess.Popen[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(tmp_path / "store.sqlite")
    for run in ("genuine", "corrupt", "mistyped"):
        store.upsert_run(run, str(tmp_path / run), kind="grpo")
    poison(store, "corrupt", L.SIGNALLED, "{not json")
    poison(store, "mistyped", L.SIGNALLED, json.dumps({"run_dir": "/x", "signalled_at": "yesterday"}))
    config = ActionsConfig(armed=True, grace_seconds=0.5, confirm_seconds=5.0)
    esc = Escalator(StoreLedger(store), config, slurm=Slurm(env={"PATH": str(tmp_path)}), retry_backoff=0.1,
                    poll_seconds=0.2)  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="rankinv.daemon"):
        esc.request(KillRequest("genuine", str(tmp_path / "genuine"), 7, 150, "entropy drop"))
        deadline = time.monotonic() + 20
        while genuine.poll() is None and time.monotonic() < deadline:
            esc.tick()
            time.sleep(0.05)
        for _ in range(20):
            esc.tick()
            time.sleep(0.05)
    assert genuine.wait(timeout=5) == -signal.SIGTERM
    by_run = {a.run: a for a in store.actions()}
    assert by_run["genuine"].state == L.DONE
    assert by_run["mistyped"].state == L.ABORTED and "TypeError" in by_run["mistyped"].audit
    assert by_run["corrupt"].state == L.SIGNALLED, "left as it was, for a person to look at"
    assert "action" in caplog.text and "of run corrupt cannot be read" in caplog.text
    store.close()
