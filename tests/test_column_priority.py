"""``rankinv status`` leaves columns out of a narrow terminal in the TUI's order: both read the vocabulary's priorities.

Oracle: the TUI table itself. Its columns are fitted to every width from wide to nothing, and the order in which
they disappear is read off; the status table, fitted the same way to a table of its own columns, must lose its
columns in that order (the TUI's columns the status table does not print left out).
"""

from __future__ import annotations

from collections.abc import Callable

from rankinv.daemon import cli_status
from rankinv.tui import columns

from rankinv import vocabulary


def _gone_in_order(fit: Callable[[int], list[str]], width_of: int) -> list[str]:
    """What ``fit(width)`` stops keeping as the width shrinks one cell at a time, first to last."""
    order: list[str] = []
    kept = list(fit(width_of))
    for width in range(width_of, -1, -1):
        now = list(fit(width))
        gone = [k for k in kept if k not in now]
        assert len(gone) <= 1, (width, gone)  # one cell less never costs two columns
        order += gone
        kept = now
    return order


def test_status_drops_its_columns_in_the_tuis_order() -> None:
    tui = _gone_in_order(lambda w: [c.key for c in columns.fitting(w)], 400)
    assert [c.key for c in columns.fitting(0)] == ["run", "predicted", "verdict"]  # the TUI never drops these
    headers = [vocabulary.label(k) if k != "#" else "#" for k in cli_status.COLUMNS]
    key_of = dict(zip(headers, cli_status.COLUMNS, strict=True))
    row = ["x" * 6 for _ in headers]  # natural widths: what the status table measures

    def status_fit(width: int) -> list[str]:
        kept, _, _ = cli_status._fitting(headers, [row], width)
        return [key_of[h] for h in kept]

    status = _gone_in_order(status_fit, 400)
    assert status == [k for k in tui if k in cli_status.COLUMNS]
    assert set(cli_status.COLUMNS) - set(status) == {"#", "run", "predicted", "verdict"}  # every other can go
    assert list(cli_status.NARROW_DROP) == status


def test_one_source_names_each_columns_priority() -> None:
    """The TUI's columns carry no priority of their own: each is the vocabulary's term's."""
    terms = {t.key: t for t in vocabulary.COLUMNS}
    assert {c.key for c in columns.COLUMNS} <= set(terms)
    assert all(c.priority == terms[c.key].priority for c in columns.COLUMNS)
    assert "priority" not in {f for f in columns.Column.__dataclass_fields__}
