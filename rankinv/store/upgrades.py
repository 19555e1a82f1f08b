"""The Python halves of schema migrations: row rewrites that SQL alone cannot express.

Each function brings rows written by an older rankinv to the shape the next schema version promises, inside
the migration's transaction. Like the SQL, a shipped function is never changed.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

_REASON_DEFAULTS: dict[str, Any] = {"value": None, "threshold": None, "op": "", "start_step": None,
                                    "end_step": None, "grade": "info", "note": ""}  # fmt: skip


def _reason_v2(item: Any) -> dict[str, Any]:
    """Version 1 wrote partial reasons (a manual kill had only metric, grade and text): fill every field."""
    if not isinstance(item, dict):
        return {**_REASON_DEFAULTS, "metric": "unreadable reason", "note": str(item)[:200], "text": str(item)[:200]}
    out = {**_REASON_DEFAULTS, **{k: v for k, v in item.items() if k in _REASON_DEFAULTS or k in ("metric", "text")}}
    out["metric"] = str(item.get("metric") or "?")
    if not out["note"] and item.get("text") and item.get("text") != out["metric"] and not out["op"]:
        out["note"] = str(item["text"])
    out.setdefault("text", out["metric"])
    return out


def _reasons_v2(conn: sqlite3.Connection) -> None:
    for row_id, text in conn.execute("SELECT id, reasons FROM verdicts").fetchall():
        try:
            items = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            continue  # left as it is: the reader shows it as unreadable, with the decoder's reason
        if isinstance(items, list):
            conn.execute("UPDATE verdicts SET reasons = ? WHERE id = ?", (json.dumps([_reason_v2(i) for i in items]),
                                                                         row_id))  # fmt: skip


def _summaries_v2(conn: sqlite3.Connection) -> None:
    from rankinv.errors import RankinvError
    from rankinv.messages import encode_triage_summary
    from rankinv.triage.digest import summarize
    from rankinv.triage.report import TriageReport

    rows = conn.execute("SELECT t.id, t.report, c.path FROM triage_reports t JOIN checkpoints c "
                        "ON c.id = t.checkpoint_id").fetchall()  # fmt: skip
    for row_id, report, path in rows:
        try:
            summary = summarize(TriageReport.from_json(report, path))
        except RankinvError:
            continue  # no summary: the reader says the report is unreadable
        conn.execute("UPDATE triage_reports SET summary = ? WHERE id = ?", (encode_triage_summary(summary), row_id))


def to_v2(conn: sqlite3.Connection) -> None:
    _reasons_v2(conn)
    _summaries_v2(conn)
