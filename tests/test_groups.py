"""The all-pass / all-fail split of degenerate groups, checked against groups counted by hand."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from rankinv.config import Config
from rankinv.groups import split
from rankinv.monitor import Curve, RunSeries, analyse
from rankinv.predict import Prediction
from rankinv.verdict import CONVERGED, Decision, decide


def counted(groups: list[list[int]]) -> tuple[float, float, float]:
    """(mean reward, zero-std share, true all-pass share) of explicit 0/1 groups."""
    flat = [r for g in groups for r in g]
    same = [g for g in groups if len(set(g)) == 1]
    return (float(Fraction(sum(flat), len(flat))), len(same) / len(groups),
            sum(1 for g in same if g[0] == 1) / len(groups))  # fmt: skip


@pytest.mark.parametrize("groups", [
    [[1, 1, 1, 1]] * 6 + [[0, 0, 0, 0]] * 2 + [[1, 0, 0, 0], [1, 1, 1, 0]],
    [[0, 0, 0, 0]] * 7 + [[1, 0, 0, 0]] * 3,
    [[1, 1, 1, 1]] * 9 + [[0, 1, 1, 1]],
    [[1, 1, 0, 0]] * 5 + [[1, 1, 1, 1], [0, 0, 0, 0]],
])  # fmt: skip
def test_bounds_hold_the_true_all_pass_share(groups: list[list[int]]) -> None:
    m, z, true_a = counted(groups)
    s = split(m, z, 4)
    assert s is not None
    assert s.all_pass_lo - 1e-12 <= true_a <= s.all_pass_hi + 1e-12
    assert s.all_pass_lo <= s.all_pass <= s.all_pass_hi and s.all_pass + s.all_fail == pytest.approx(z)


def test_no_mixed_groups_make_the_split_exact() -> None:
    s = split(0.7, 1.0, 8)
    assert s is not None and s.all_pass_lo == s.all_pass_hi == pytest.approx(0.7)
    assert s.learnt is False and s.stuck, "30% of groups all fail and none still learn"
    assert split(1.0, 1.0, 8).learnt and not split(1.0, 1.0, 8).stuck  # type: ignore[union-attr]
    assert split(0.1, 1.0, 8).stuck  # type: ignore[union-attr]
    assert split(2.0, 1.0, 8, ceiling=2.0).all_pass == 1.0  # type: ignore[union-attr]


def test_mostly_mixed_groups_let_neither_side_dominate() -> None:
    s = split(0.5, 0.3, 4)
    assert s is not None and not s.learnt and not s.stuck
    assert split(float("nan"), 0.5, 4) is None and split(0.5, 0.5, 1) is None


def collapse_series(reward: float, zero_std: float) -> RunSeries:
    steps = tuple(range(0, 200, 5))
    entropy = tuple(1.0 if s <= 10 else 0.2 for s in steps)
    return RunSeries(Curve.of(steps, entropy), Curve.of(steps, [reward] * len(steps)),
                     Curve.of(steps, [zero_std] * len(steps)))  # fmt: skip


def test_entropy_spent_on_passing_groups_is_convergence_not_a_kill() -> None:
    cfg = Config()
    m = analyse(collapse_series(0.98, 0.95), cfg.monitor)
    v = decide(m, config=cfg, group_size=8)
    assert v.decision is Decision.CONTINUE and v.reasons[0].metric == CONVERGED
    paper = dataclasses.replace(cfg, verdict=dataclasses.replace(cfg.verdict, stage2_policy="tau2"))
    assert decide(m, config=paper, group_size=8).decision is Decision.KILL


def test_entropy_spent_on_failing_groups_with_a_stalled_reward_is_a_kill() -> None:
    cfg = Config()
    v = decide(analyse(collapse_series(0.03, 0.95), cfg.monitor), config=cfg, group_size=8)
    assert v.decision is Decision.KILL
    assert "all-fail group share" in [r.metric for r in v.reasons if r.grade == "kill"]


def test_an_unknown_policy_is_refused() -> None:
    from rankinv.config import parse_config
    from rankinv.errors import RankinvError

    with pytest.raises(RankinvError, match="stage2_policy"):
        parse_config('[verdict]\nstage2_policy = "nope"\n')


def test_a_point_never_leaves_its_interval() -> None:
    p = Prediction(0.95, 0.80, 0.90, "x")
    assert p.lo <= p.estimate <= p.hi
    assert str(Prediction(0.5, 0.4, 0.7, "prior")) == "0.500 [0.400, 0.700] (prior)"
