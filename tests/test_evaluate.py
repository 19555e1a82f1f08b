"""The one evaluation path: the group size and features every caller gets for the same inputs."""

from __future__ import annotations

from math import comb
from pathlib import Path

import pytest

from rankinv.config import Config
from rankinv.evaluate import evaluate_run, reward_ceiling, run_features
from rankinv.monitor import Curve, RunSeries
from rankinv.predict import features_from_report
from tests.support.reports import make_report

PASSES = [0, 2, 5, 8, 16, 3, 0, 1]


def degenerate_by_hand(passes: list[int], n: int, g: int) -> float:
    """P(a group of g drawn without replacement from a prompt's n samples all agree), averaged over prompts."""
    return sum((comb(c, g) + comb(n - c, g)) / comb(n, g) for c in passes) / len(passes)


def test_a_triage_at_g8_is_reread_at_the_runs_g4(tmp_path: Path) -> None:
    triage = features_from_report(make_report(tmp_path, PASSES, n=16, g=8))
    assert triage.degenerate_fraction == pytest.approx(degenerate_by_hand(PASSES, 16, 8))
    f = run_features(triage, "run", {"group_size": 4}, Config())
    assert f.group_size == 4
    assert f.degenerate_fraction == pytest.approx(degenerate_by_hand(PASSES, 16, 4))
    assert run_features(triage, "run", None, Config()) is triage


def test_without_a_report_the_manifest_decides_the_group_size() -> None:
    cfg = Config()
    assert run_features(None, "r", {"group_size": 4}, cfg).group_size == 4
    for bad in (None, {}, {"group_size": True}, {"group_size": 1}, {"group_size": "4"}):
        assert run_features(None, "r", bad, cfg).group_size == cfg.triage.group_size


def test_the_reward_ceiling_counts_the_manifests_reward_functions() -> None:
    cfg = Config()
    assert reward_ceiling({"reward_functions": ["a", "b"]}, cfg) == 2.0
    assert reward_ceiling(None, cfg) == reward_ceiling({"reward_functions": "x"}, cfg) == 1.0


def test_the_prediction_uses_the_runs_group_size(tmp_path: Path) -> None:
    steps = tuple(range(0, 40))
    series = RunSeries(Curve.of(steps, [1.0] * 40), Curve.of(steps, [0.3] * 40), Curve.of(steps, [0.5] * 40))
    triage = features_from_report(make_report(tmp_path, PASSES, n=16, g=8))
    at4 = evaluate_run(series, triage, Config(), name="r", manifest={"group_size": 4})
    at8 = evaluate_run(series, triage, Config(), name="r", manifest={"group_size": 8})
    assert dict(at4.prediction.terms)["signal"] == pytest.approx(1 - degenerate_by_hand(PASSES, 16, 4))
    assert dict(at8.prediction.terms)["signal"] == pytest.approx(1 - degenerate_by_hand(PASSES, 16, 8))
    assert at4.monitor is not None and at4.monitor.zero_std_expected == pytest.approx(degenerate_by_hand(PASSES, 16, 4))
