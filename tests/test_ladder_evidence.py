"""The README's ladder evidence is recomputed from the stored per-seed results, so it cannot drift from them; the
stored runs follow the split fixed in examples/ladder/VALIDATION.md and one frozen set of settings."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from examples.ladder import evidence
from examples.ladder.settings import FULL, HUMP

ROOT = Path(__file__).resolve().parents[1]


def _spearman(x: list[float], y: list[float]) -> float:
    """Pearson on average ranks (the oracle: numpy only, not rankinv.stats)."""
    def ranks(v: list[float]) -> np.ndarray:
        a = np.asarray(v)
        return np.array([np.mean(np.flatnonzero(np.sort(a) == value)) for value in a])

    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


@pytest.mark.parametrize("name", list(evidence.tables()))
def test_readme_shows_the_tables_recomputed_from_the_stored_runs(name: str) -> None:
    assert evidence.tables()[name] in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_split_and_the_settings_are_the_fixed_ones() -> None:
    ladders = evidence.load()
    assert [(lad.seed, lad.split) for lad in ladders] == [(0, "dev"), (1, "dev"),
                                                          *((s, "held-out") for s in range(2, 8))]
    # the ranking tables keep the two held-out sets apart (2-4 read before this session's changes, 5-7 after)
    assert [lad.group for lad in ladders] == ["dev"] * 2 + ["held-out 2–4"] * 3 + ["held-out 5–7"] * 3
    validation = (ROOT / "examples" / "ladder" / "VALIDATION.md").read_text(encoding="utf-8")
    assert "Development seeds: 0 and 1" in validation and "Held-out seeds: 2, 3 and 4" in validation
    assert "new held-out seeds 5, 6 and 7" in validation
    for path in sorted(evidence.RESULTS.glob("hump-seed*.json")):
        stored = json.loads(path.read_text())["ladder"]["settings"]
        expected = dataclasses.replace(HUMP, seed=stored["seed"]).as_dict()
        assert stored == {**expected, "depths": list(HUMP.depths)}, path.name
    for lad in evidence.load(task="digits"):
        assert [r["depth"] for r in lad.rows] == list(FULL.depths) and lad.split == "dev"


def test_spearman_and_the_hump_sides_follow_the_stored_numbers() -> None:
    for lad in evidence.load():
        actual = lad.actual
        scores = evidence.ladder_scores(lad, evidence.load())
        assert scores["pass1"] == pytest.approx(_spearman([r["pass1"] for r in lad.rows], actual))
        assert scores["eval_loss"] == pytest.approx(_spearman([-r["eval_loss"] for r in lad.rows], actual))
        predicted = [evidence.predict(r).estimate for r in lad.rows]
        assert scores["predicted"] == pytest.approx(_spearman(predicted, actual))
        best = max(lad.rows, key=lambda r: r["actual"])
        shallow, deep = lad.rows[0], lad.rows[-1]
        sides = evidence.hump(lad)
        assert sides["left"] == (shallow["pass1"] < 0.083 and best["actual"] - shallow["actual"] >= 0.1)
        gap = best["actual"] - deep["actual"]
        assert sides["right"] == (gap >= 0.1 and deep["pass1"] >= best["pass1"] and deep["degenerate"] >= 0.5
                                  and deep["entropy"] * 2 <= best["entropy"])


def test_interval_coverage_counts_the_rungs_inside() -> None:
    for lad in evidence.load():
        inside = 0
        for r in lad.rows:
            p = evidence.predict(r)
            assert 0.0 <= p.lo <= p.estimate <= p.hi <= 1.0 and math.isfinite(p.estimate)
            inside += p.lo <= r["actual"] <= p.hi
        assert evidence.coverage(lad) == inside / len(lad.rows)
