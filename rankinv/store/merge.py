"""Copying the runs of one store file into another: what a one-shot scan's workers wrote, each to a file of its own.

The source holds only runs the destination has never seen (the scan hands a worker nothing else), written by the
same rankinv at the same schema version. Every row is copied with new row ids: a run's id and a checkpoint's id are
looked up by name and by path, so ``run_id`` and ``checkpoint_id`` point at the copies. Nothing is read back into
Python: one ``INSERT … SELECT`` per table, without the foreign-key checks (every run and checkpoint of the source is
copied first, so each ``run_id`` and ``checkpoint_id`` finds its copy; a column must be mapped to be copied at all,
and ``NOT NULL`` refuses one that is not). The health table is the destination's (the scan writes its own); a table
this module does not know how to copy, or one it must not (actions, commands, triage reports: a worker never writes
them), is refused when the source holds rows in it, so a schema change cannot lose rows silently.
"""

from __future__ import annotations

from pathlib import Path

from rankinv.store.writes import EVENTS_KEPT, Writes

PER_RUN = ("metrics", "offsets", "events")  # besides runs and checkpoints
JUDGED = ("monitor", "predictions", "verdicts")
NOT_COPIED = ("health",)
REFUSED = ("actions", "commands", "triage_reports")


class MergeError(RuntimeError):
    pass


def _columns(store: Writes, schema: str, table: str) -> list[tuple[str, bool]]:
    """The table's columns, each with whether it is the row id ``id`` (``INTEGER PRIMARY KEY``: the copy gets a new
    one; a table keyed by ``run_id`` keeps it, mapped)."""
    rows = store.conn.execute(f"PRAGMA {schema}.table_info({table})").fetchall()
    keyed = [r for r in rows if r[5]]
    return [(r[1], r[1] == "id" and len(keyed) == 1 and str(r[2]).upper() == "INTEGER") for r in rows]


def _copy(store: Writes, table: str) -> int:
    cols = _columns(store, "main", table)
    if [c for c, _ in cols] != [c for c, _ in _columns(store, "w", table)]:
        raise MergeError(f"table {table}: the worker's store has other columns")
    names, exprs, joins = [], [], []
    for col, rowid in cols:
        if rowid:
            continue
        names.append(col)
        if col == "run_id":
            exprs.append("rm.new")
            joins.append("LEFT JOIN temp.run_map rm ON rm.old = s.run_id")
        elif col == "checkpoint_id":
            exprs.append("cm.new")
            joins.append("LEFT JOIN temp.checkpoint_map cm ON cm.old = s.checkpoint_id")
        elif col.endswith("_id") and col not in ("job_id",):
            raise MergeError(f"table {table}: column {col} refers to rows the merge does not map")
        else:
            exprs.append(f"s.{col}")
    order = "s.rowid" if any(rowid for _, rowid in cols) else "1"
    if table == "metrics":
        order = "1"  # WITHOUT ROWID: no rowid to keep the order by (none is needed)
    cur = store.conn.execute(f"INSERT INTO main.{table}({', '.join(names)}) SELECT {', '.join(exprs)} "
                             f"FROM w.{table} s {' '.join(joins)} ORDER BY {order}")  # fmt: skip
    return int(cur.rowcount)


def merge_runs(store: Writes, source: Path, *, judged: bool) -> int:
    """Copy every run of the store file ``source`` (its records, checkpoints, points, offsets, events; with
    ``judged`` also its monitors, predictions and verdicts) into ``store`` in one transaction; returns the runs
    copied. Outside any transaction of ``store`` (SQLite attaches a file only there)."""
    conn = store.conn
    if conn.in_transaction:
        raise MergeError("merge_runs runs in a transaction of its own")
    conn.execute("ATTACH DATABASE ? AS w", (str(source),))
    conn.execute("PRAGMA foreign_keys=OFF")  # a third of the copy's time; every reference is mapped by construction
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM w.sqlite_master WHERE type = 'table'")}
        known = {"runs", "checkpoints", *PER_RUN, *JUDGED, *NOT_COPIED, *REFUSED}
        for table in sorted(tables - known):
            raise MergeError(f"table {table}: unknown to the merge of a worker's store")
        for table in REFUSED if judged else (*REFUSED, *JUDGED):
            if table in REFUSED and conn.execute(f"SELECT 1 FROM w.{table} LIMIT 1").fetchone():
                raise MergeError(f"table {table}: a worker's store holds rows the merge does not copy")
        with store.transaction():
            runs = _copy(store, "runs")
            conn.execute("CREATE TEMP TABLE run_map(old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
            conn.execute("CREATE TEMP TABLE checkpoint_map(old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
            conn.execute("INSERT INTO temp.run_map SELECT s.id, d.id FROM w.runs s JOIN main.runs d ON d.name = s.name")
            _copy(store, "checkpoints")
            conn.execute("INSERT INTO temp.checkpoint_map SELECT s.id, d.id FROM w.checkpoints s "
                         "JOIN main.checkpoints d ON d.path = s.path")  # fmt: skip
            for table, mapped in (("runs", "run_map"), ("checkpoints", "checkpoint_map")):
                if conn.execute(f"SELECT (SELECT count(*) FROM w.{table}) - (SELECT count(*) FROM temp.{mapped})"
                                ).fetchone()[0]:  # fmt: skip
                    raise MergeError(f"table {table}: not every row of the worker's store found its copy")
            for table in (*PER_RUN, *(JUDGED if judged else ())):
                _copy(store, table)
            top = conn.execute("SELECT max(id) FROM main.events").fetchone()[0]
            if top is not None:  # the feed stays as long as add_event keeps it
                conn.execute("DELETE FROM main.events WHERE id <= ?", (top - EVENTS_KEPT,))
            conn.execute("DROP TABLE temp.run_map")
            conn.execute("DROP TABLE temp.checkpoint_map")
        return runs
    finally:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DETACH DATABASE w")
