"""The daemon's predictor switches from the prior to a model fitted on finished runs once the store holds enough
of them with a measured pass@10 (real SQLite, the daemon's own Brain)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rankinv.daemon.pipeline.brain import Brain

from rankinv.config import Config, PredictConfig
from rankinv.store import Store


def _run(store: Store, name: str, drop: float, outcome: float | None) -> None:
    """A 40-step GRPO run whose entropy falls by ``drop``; ``outcome`` is logged as eval/pass@10."""
    store.upsert_run(name, f"/runs/{name}", kind="GRPO")
    points = []
    for step in range(1, 41):
        points.append((step, "entropy", 1.0 - drop * step / 40, None))
        points.append((step, "reward_mean", 0.2 + 0.1 * step / 40, None))
        points.append((step, "frac_reward_zero_std", 0.3, None))
    if outcome is not None:
        points += [(20, "eval/pass@10", outcome - 0.05, None), (40, "eval/pass@10", outcome, None)]
    store.add_metrics(name, points)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "store.sqlite")
    yield s
    s.close()


def test_prior_until_enough_history_then_fitted(store: Store) -> None:
    config = Config(predict=PredictConfig(min_history=5))
    for i, drop in enumerate([0.1, 0.3, 0.5, 0.7]):
        _run(store, f"done-{i}", drop, outcome=0.9 - drop)
    _run(store, "live", 0.2, outcome=None)
    brain = Brain(store, config)
    brain.history.refresh_seconds = 0.0
    brain.evaluate_run(store.run("live"))
    assert store.snapshot().candidates[0].basis is not None
    assert not any((c.basis or "").startswith("fitted") for c in store.snapshot().candidates)

    _run(store, "done-4", 0.9, outcome=0.0)  # the fifth finished run
    assert math.isclose(brain.history.outcome("done-4"), 0.0)  # peak of the logged eval pass@10
    brain.evaluate_run(store.run("live"))
    live = next(c for c in store.snapshot().candidates if c.run == "live")
    assert (live.basis or "").startswith("fitted on 5 runs (LOO Spearman")
    assert live.predicted is not None and 0.0 <= live.predicted_lo <= live.predicted <= live.predicted_hi <= 1.0


def test_a_run_without_eval_logs_is_not_history(store: Store) -> None:
    _run(store, "no-eval", 0.5, outcome=None)
    brain = Brain(store, Config())
    assert math.isnan(brain.history.outcome("no-eval"))
    assert brain.history.model() is None
