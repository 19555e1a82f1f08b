"""The README's stage-2 confusion table is recomputed from the stored replayed runs, so it cannot drift from them."""

from __future__ import annotations

from pathlib import Path

from examples.ladder.stage2 import confusion, load, markdown

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "examples" / "ladder" / "results" / "stage2.json"


def test_readme_table_is_the_stored_runs_table() -> None:
    assert markdown(load(STORED)) in (ROOT / "README.md").read_text(encoding="utf-8")


def test_confusion_counts_follow_the_oracle() -> None:
    rows = load(STORED)
    for policy in ("groups", "tau2"):
        c = confusion(rows, policy)
        killed = [r for r in rows if r.first_kill[policy] is not None]
        assert c["right_kills"] + c["wrong_kills"] == len(killed)
        assert c["right_kills"] + c["missed"] == c["collapsed"] == sum(r.after < r.before for r in rows)
