"""The all-pass / all-fail split of degenerate groups, checked against groups counted by hand."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from rankinv.config import Config
from rankinv.groups import split
from rankinv.monitor import Curve, RunSeries, analyse
from rankinv.predict import Features, Prediction
from rankinv.verdict import CONVERGED, PLATEAUED, STARVED, Decision, decide


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


def flat_series(reward: float, zero_std: float, entropy: float = 5.0) -> RunSeries:
    """A run whose entropy never moves: groups agree from its first step, as an under-trained start's do."""
    steps = tuple(range(0, 200, 5))
    return RunSeries(Curve.of(steps, [entropy] * len(steps)), Curve.of(steps, [reward] * len(steps)),
                     Curve.of(steps, [zero_std] * len(steps)))  # fmt: skip


STARVED_START = Features(name="sft-step-2", group_size=8, pass_at_k=((1, 0.01),), entropy=5.0, headroom=0.12)


def test_groups_that_all_fail_from_an_under_trained_start_are_starved_not_a_collapse() -> None:
    """p = 0.01 < p*(8) = 0.083 from the first step, entropy flat at the triage's: the signal was never there."""
    cfg = Config()
    m = analyse(flat_series(0.01, 0.97), cfg.monitor)
    v = decide(m, STARVED_START, config=cfg, group_size=8)
    assert v.decision is Decision.WATCH and v.reasons[0].metric == STARVED, v.summary()
    assert "not a collapse" in v.reasons[0].note and v.reasons[0].value == pytest.approx(0.01)
    assert "kill" not in {r.grade for r in v.reasons}


def test_starved_needs_stage_one_and_an_intact_entropy() -> None:
    """Without a triage of the start, or with the entropy blown up past tau2 against it (a policy turned to
    noise by its first updates also fails every group), the all-fail run is judged as a collapse."""
    cfg = Config()
    dead = analyse(flat_series(0.01, 0.97), cfg.monitor)
    assert decide(dead, None, config=cfg, group_size=8).decision is Decision.KILL
    blown = analyse(flat_series(0.01, 0.97, entropy=7.6), cfg.monitor)  # 52% above the triage's 5.0
    assert decide(blown, STARVED_START, config=cfg, group_size=8).decision is Decision.KILL
    healthy_start = dataclasses.replace(STARVED_START, headroom=1.5)
    assert decide(dead, healthy_start, config=cfg, group_size=8).decision is Decision.KILL


def rising_then_flat(falls_back: bool) -> RunSeries:
    """Reward 0.1 → 0.5 over the first half, then flat (or falling back to 0.1); entropy spent; 90% of groups
    agree at the end, so all-fail groups (about 45%) outnumber the mixed ones (10%)."""
    steps = list(range(0, 200, 5))
    entropy = [1.0 if s <= 10 else 0.2 for s in steps]
    noise = [0.02 * (-1) ** i for i in range(len(steps))]
    level = [0.1 + 0.4 * min(1.0, s / 100) for s in steps]
    if falls_back:
        level = [v if s <= 100 else max(0.1, 0.5 - 0.4 * (s - 100) / 60) for s, v in zip(steps, level, strict=True)]
    reward = [v + e for v, e in zip(level, noise, strict=True)]
    zero = [0.5 if s < 100 else 0.9 for s in steps]
    return RunSeries(Curve.of(steps, entropy), Curve.of(steps, reward), Curve.of(steps, zero))


def test_a_reward_that_rose_clearly_before_the_groups_agreed_is_a_plateau_not_a_collapse() -> None:
    cfg = Config()
    v = decide(analyse(rising_then_flat(False), cfg.monitor), config=cfg, group_size=8)
    assert v.decision is Decision.WATCH and v.reasons[0].metric == PLATEAUED, v.summary()
    gain, twice_se = v.reasons[0].value, v.reasons[0].threshold
    # opening window (steps 0-15): 0.12, 0.10, 0.16, 0.14 (mean 0.13, squared deviations 20e-4); recent
    # (steps 180-195): 0.52, 0.48, 0.52, 0.48 (mean 0.5, 16e-4); Welch: se = sqrt((20e-4/3 + 16e-4/3) / 4)
    assert gain == pytest.approx(0.37, abs=1e-9) and twice_se == pytest.approx(2 * (36e-4 / 12) ** 0.5)
    lost = decide(analyse(rising_then_flat(True), cfg.monitor), config=cfg, group_size=8)
    assert lost.decision is Decision.KILL, "a reward back at its opening level gained nothing: collapse"
    paper = dataclasses.replace(cfg, verdict=dataclasses.replace(cfg.verdict, stage2_policy="tau2"))
    assert decide(analyse(rising_then_flat(False), cfg.monitor), config=paper, group_size=8).decision is Decision.KILL


def test_an_unknown_policy_is_refused() -> None:
    from rankinv.config import parse_config
    from rankinv.errors import RankinvError

    with pytest.raises(RankinvError, match="stage2_policy"):
        parse_config('[verdict]\nstage2_policy = "nope"\n')


def test_a_point_never_leaves_its_interval() -> None:
    p = Prediction(0.95, 0.80, 0.90, "x")
    assert p.lo <= p.estimate <= p.hi
    assert str(Prediction(0.5, 0.4, 0.7, "prior")) == "0.500 [0.400, 0.700] (prior)"
