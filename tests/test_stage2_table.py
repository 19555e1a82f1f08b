"""The README's stage-2 tables are recomputed from the stored replayed runs, so they cannot drift from them; the
noise-aware oracle's arithmetic is checked against sampling."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from examples.ladder.noise import change_sd, mean_sd, outcome, prompt_variance
from examples.ladder.stage2 import confusion, confusion_noise, detail, load, markdown, markdown_noise

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "examples" / "ladder" / "results" / "stage2.json"


def test_readme_tables_are_the_stored_runs_tables() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = load(STORED)
    assert markdown(rows) in readme and markdown_noise(rows) in readme and detail(rows) in readme


def test_confusion_counts_follow_the_oracles() -> None:
    rows = load(STORED)
    for policy in ("groups", "tau2"):
        c = confusion(rows, policy)
        killed = [r for r in rows if r.first_kill[policy] is not None]
        assert c["right_kills"] + c["wrong_kills"] == len(killed)
        assert c["right_kills"] + c["missed"] == c["collapsed"] == sum(r.after < r.before for r in rows)
        n = confusion_noise(rows, policy)
        judged = [r for r in rows if math.isfinite(r.noise_sd)]
        lost = [r for r in judged if r.after - r.before < -2 * r.noise_sd]
        assert n["lost"] == len(lost) and n["runs"] == len(judged) == n["lost"] + n["flat"] + n["gained"]
        assert n["right_kills"] + n["missed"] == len(lost)
        assert n["right_kills"] + n["wrong_kills"] + n["flat_kills"] == sum(r.first_kill[policy] is not None
                                                                           for r in judged)


@pytest.mark.parametrize(("c", "n"), [(0, 16), (3, 16), (16, 16), (5, 32), (31, 32)])
def test_a_prompts_pass_at_10_variance_matches_sampling_its_posterior(c: int, n: int) -> None:
    p = np.random.default_rng(c * 100 + n).beta(c + 0.5, n - c + 0.5, size=400_000)
    sampled = float(np.var(1 - (1 - p) ** 10))
    assert prompt_variance(c, n) == pytest.approx(sampled, rel=0.02, abs=1e-5)


def test_the_change_sd_adds_both_sides_and_the_outcome_reads_two_sds() -> None:
    before, after = [(0, 16)] * 10, [(8, 32)] * 10
    assert mean_sd(before) == pytest.approx(math.sqrt(10 * prompt_variance(0, 16)) / 10)
    assert change_sd(before, after) == pytest.approx(math.hypot(mean_sd(before), mean_sd(after)))
    assert math.isnan(mean_sd([]))
    assert outcome(0.5, 0.39, 0.05) == "lost" and outcome(0.5, 0.61, 0.05) == "gained"
    assert outcome(0.5, 0.41, 0.05) == "flat" and outcome(0.5, 0.1, math.nan) is None
