"""Opening a store written by an older rankinv: the daemon migrates it, readers and the command channel refuse it.

The version-1 store is built here with plain SQLite from migration 1's own SQL and rows in the shapes that
version wrote (reasons without every field, triage reports without a summary).
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest

from rankinv.messages import Reason
from rankinv.store import LATEST_VERSION, CommandChannel, ReadStore, Store, StoreError, schema_version
from rankinv.store.schema import MIGRATIONS, Migration
from rankinv.triage.digest import summarize
from tests.support.reports import flagged, make_report

CKPT = "/runs/sft/checkpoint-10"
BRAIN_V1 = {"metric": "entropy drop", "value": 0.64, "threshold": 0.5, "op": ">", "start_step": 10, "end_step": 150,
            "grade": "kill", "note": "", "text": "entropy drop 0.64 > 0.50 (steps 10→150)"}  # fmt: skip
MANUAL_V1 = {"metric": "user request", "grade": "kill", "text": "kill requested from tui"}


def _v1_store(path: Path) -> str:
    report = make_report(CKPT, [0, 1, 4, 16, 9], flag=flagged()).to_json()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(f"BEGIN;\n{MIGRATIONS[0].sql}\nPRAGMA user_version = 1;\nCOMMIT;")
    for row in ((1, "sft", "/runs/sft", "sft"), (2, "grpo", "/runs/grpo", "grpo")):
        conn.execute("INSERT INTO runs(id, name, path, kind, created_at, updated_at) VALUES(?, ?, ?, ?, 0, 0)", row)
    conn.execute("INSERT INTO checkpoints(id, run_id, step, path, complete, triage_state, created_at, updated_at) "
                 "VALUES(1, 1, 10, ?, 1, 'done', 0, 0)", (CKPT,))
    conn.execute("INSERT INTO triage_reports(checkpoint_id, report, flagged, created_at) VALUES(1, ?, 1, 0)", (report,))
    for i, reasons in enumerate(([BRAIN_V1], [MANUAL_V1], "not json")):
        text = reasons if isinstance(reasons, str) else json.dumps(reasons)
        conn.execute("INSERT INTO verdicts(run_id, subject, step, decision, summary, reasons, created_at, updated_at) "
                     "VALUES(2, 'grpo', ?, 'KILL', 's', ?, 0, 0)", (i, text))  # fmt: skip
    conn.close()
    return report


def test_readers_refuse_an_old_store_and_say_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _v1_store(path)
    with pytest.raises(StoreError, match=r"schema version 1.*restart the daemon"):
        ReadStore.open(path)
    with pytest.raises(StoreError, match="schema version 1"):
        CommandChannel.open(path)
    conn = sqlite3.connect(path)
    assert schema_version(conn) == 1, "a reader never migrates"
    conn.close()


def test_the_daemon_migrates_an_old_store_and_readers_decode_every_row(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    report_json = _v1_store(path)
    with Store.open(path) as store:
        assert schema_version(store.conn) == LATEST_VERSION
    with ReadStore.open(path) as reader:
        summary = reader.triage_summary(CKPT)
        brain, manual, broken = sorted(reader.verdicts("grpo"), key=lambda v: v.step or 0)
    from rankinv.triage.report import TriageReport

    assert summary == summarize(TriageReport.from_json(report_json)) and summary.flagged
    assert brain.reasons == (Reason("entropy drop", 0.64, 0.5, ">", 10, 150, "kill"),)
    (user,) = manual.reasons
    assert (user.metric, user.grade, user.op, user.note) == ("user request", "kill", "", "kill requested from tui")
    assert math.isnan(user.value) and user.render() == "user request: kill requested from tui"
    assert broken.reasons[0].metric == "stored reasons unreadable"  # left as it was, shown as unreadable


def test_a_failed_migration_leaves_the_old_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.sqlite"
    _v1_store(path)

    def explode(conn: sqlite3.Connection) -> None:
        raise RuntimeError("power cut")

    from rankinv.store import schema

    broken = Migration(2, "x", MIGRATIONS[1].sql, explode)
    monkeypatch.setattr(schema, "MIGRATIONS", (MIGRATIONS[0], broken))
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(RuntimeError, match="power cut"):
        schema.migrate(conn)
    assert schema_version(conn) == 1 and not conn.in_transaction
    columns = [r[1] for r in conn.execute("PRAGMA table_info(triage_reports)")]
    assert "summary" not in columns, "the SQL half was rolled back with the Python half"
    conn.close()
