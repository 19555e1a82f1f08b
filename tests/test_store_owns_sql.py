"""Every SQL statement lives in ``rankinv/store/``: the daemon, the TUI and the rest of the core call typed methods.

A scan of the source, so that SQL written elsewhere fails the build; the scanner itself is checked on a planted
file so the protection cannot silently rot.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCANNED = ("rankinv", "daemon", "tui")
# A quoted "sqlite3.connect" is an audit-event name (the sandbox refuses it), not a connection.
SQL = re.compile("|".join((
    r"\bSELECT\s+[\w*(]", r"\bINSERT\s+(OR\s+\w+\s+)?INTO\b", r"\bUPDATE\s+\w+\s+SET\b", r"\bDELETE\s+FROM\b",
    r"\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX)\b", r"[\"']\s*(PRAGMA|BEGIN|COMMIT|ROLLBACK)\b",  # statements, not prose
    r"\.execute(many|script)?\(", r"\b(import|from)\s+sqlite3\b", r"(?<![\"'])\bsqlite3\.", r"\.conn\b",
)))  # fmt: skip


def sql_outside_store(root: Path) -> list[str]:
    """``path:line: text`` for every line outside ``rankinv/store/`` that looks like SQL or reaches a connection."""
    hits = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            if (root / "rankinv" / "store") in path.parents:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SQL.search(line):
                    hits.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return hits


def test_no_sql_outside_the_store() -> None:
    assert sql_outside_store(REPO) == [], "move these into rankinv/store/ behind a typed method"


def test_the_scan_finds_planted_sql(tmp_path: Path) -> None:
    planted = {
        "daemon/pipeline/x.py": 'rows = self.store.conn.execute("SELECT 1 FROM runs")',
        "tui/y.py": "import sqlite3",
        "daemon/w.py": "db = sqlite3.connect(path)",
        "rankinv/z.py": 'sql = "UPDATE runs SET pinned = ?"',
        "rankinv/store/fine.py": 'conn.execute("DELETE FROM events")',
    }
    for name, text in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    hits = sql_outside_store(tmp_path)
    assert sorted(h.split(":")[0] for h in hits) == ["daemon/pipeline/x.py", "daemon/w.py", "rankinv/z.py", "tui/y.py"]
