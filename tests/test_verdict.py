"""Verdicts: the paper's stage-2 decisions, hysteresis, warm-up, missing data, pins, headroom protection, and
properties (logging frequency, NaN-only input, one outlier) checked with hypothesis."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankinv.config import Config, MonitorConfig, VerdictConfig
from rankinv.messages import Reason
from rankinv.monitor import Curve, RunSeries, analyse
from rankinv.predict import Features, Prediction
from rankinv.verdict import Decision, decide

LADDER = json.loads((Path(__file__).parent / "data" / "paper_qwen_ladder.json").read_text())


def entropy_curve(h0: float, drop: float, *, last: int = 150, every: int = 1, shape: str = "exp") -> Curve:
    """Entropy falling by ``drop`` (relative) from step 10 to step 150, flat after; logged every ``every`` steps
    from step ``every`` as TRL does."""
    steps = list(range(every, last + 1, every))

    def h(t: int) -> float:
        x = min(max(t - 10, 0), 140) / 140
        return h0 * ((1 - drop) ** x if shape == "exp" else 1 - drop * x)

    return Curve.of(steps, [h(t) for t in steps])


def verdict_for(curve: Curve, features: Features | None = None, cfg: Config | None = None, **series: Curve):
    cfg = cfg or Config()
    return decide(analyse(RunSeries(entropy=curve, **series), cfg.monitor), features, None, cfg)


@pytest.mark.parametrize("row", LADDER["seed42_stage_diagnostics"], ids=lambda r: f"{r['sft_epochs']}ep")
def test_paper_stage2_table_reproduces_the_papers_decisions(row: dict[str, float]) -> None:
    """seed42 drops 24/44/56/28/64% by step 150 with τ₂ = 0.5: the paper stops 2.9 and 5.8 epochs only."""
    drop = row["entropy_drop_step10_to_150"]
    monitor = analyse(RunSeries(entropy=entropy_curve(row["entropy_nats"], drop)))
    assert monitor.drop_at_decision == pytest.approx(drop, abs=1e-9)
    verdict = decide(monitor, Features(entropy=row["entropy_nats"]))
    assert (verdict.decision is Decision.KILL) == (drop > LADDER["thresholds"]["tau_2_relative_drop"])
    if verdict.decision is Decision.KILL:
        assert verdict.reasons[0].render() == f"entropy drop {drop:.2f} > 0.50 (steps 10→150)"
        assert verdict.audit("qwen").startswith("Run qwen Step 150: KILL (")


def test_one_low_point_at_the_end_does_not_kill() -> None:
    curve = entropy_curve(0.2, 0.1, last=200)
    spiked = Curve.of([*curve.steps, 201], [*curve.values, 0.01])
    assert verdict_for(curve).decision is Decision.CONTINUE
    assert verdict_for(spiked).decision is not Decision.KILL


def test_a_drop_must_hold_over_the_hold_span() -> None:
    """Entropy that dips below the threshold only for the last few steps is WATCH, not KILL."""
    base = entropy_curve(0.2, 0.3, last=180)
    steps = [*base.steps, *range(181, 186)]
    dipped = Curve.of(steps, [*base.values, *[0.05] * 5])
    v = verdict_for(dipped)
    assert v.decision is Decision.WATCH
    assert "not yet held" in v.reasons[0].note


def test_no_kill_during_warm_up() -> None:
    cfg = Config(monitor=MonitorConfig(baseline_step=2, decision_step=10), verdict=VerdictConfig(warmup_steps=30))
    steps = list(range(1, 26))
    collapsing = Curve.of(steps, [1.0 * 0.8**s for s in steps])
    v = verdict_for(collapsing, cfg=cfg)
    assert v.decision is Decision.WATCH
    assert any(r.grade == "hold" and r.note == "warm-up" for r in v.reasons)
    later = Curve.of(list(range(1, 41)), [1.0 * 0.8**s for s in range(1, 41)])
    assert verdict_for(later, cfg=cfg).decision is Decision.KILL


def test_no_rl_data_never_kills_even_with_stage1_flags() -> None:
    flagged = Features(entropy=0.05, headroom=0.2, degenerate_fraction=0.95, pass_at_k=((1, 0.01),))
    bad = Prediction(0.02, 0.0, 0.05, "prior")
    v = decide(None, flagged, bad)
    assert v.decision is Decision.WATCH
    assert {r.metric for r in v.reasons} >= {"stage-1 entropy", "headroom", "degenerate fraction"}
    assert any(r.grade == "hold" for r in v.reasons)
    assert decide(analyse(RunSeries()), flagged, bad).decision is Decision.WATCH


def test_pin_continue_is_respected_and_explained() -> None:
    v = decide(analyse(RunSeries(entropy=entropy_curve(0.12, 0.64))), pinned=True)
    assert v.decision is Decision.CONTINUE
    assert v.reasons[0].render() == "pinned CONTINUE by user"
    assert any(r.grade == "kill" for r in v.reasons), "the condition that would have killed is still listed"


def test_high_headroom_is_not_killed_for_entropy_alone() -> None:
    """The paper's DeepSeek ladder kept its order though entropy halved: p far above p*(g) only compresses."""
    strong = Features(headroom=6.0, degenerate_fraction=0.3, pass_at_k=((1, 0.5),))
    steps = list(range(1, 151))
    calm = Curve.of(steps, [0.3] * 150)  # zero-std as the triage predicted
    v = verdict_for(entropy_curve(0.3, 0.6), strong, zero_std=calm)
    assert v.decision is Decision.WATCH
    assert any(r.grade == "protect" for r in v.reasons)
    agreeing = Curve.of(steps, [0.3 + 0.4 * s / 150 for s in steps])  # groups agree far more than p implies
    assert verdict_for(entropy_curve(0.3, 0.6), strong, zero_std=agreeing).decision is Decision.KILL


def test_dead_group_signal_kills_after_warm_up_and_a_full_window() -> None:
    steps = list(range(1, 61))
    flat = Curve.of(steps, [1.0] * 60)
    dead = Curve.of(steps, [1.0] * 60)
    v = verdict_for(flat, zero_std=dead)
    assert v.decision is Decision.KILL
    assert v.reasons[0].metric == "zero-std fraction"
    young = Curve.of(steps[:15], [1.0] * 15)
    assert verdict_for(Curve.of(steps[:15], [1.0] * 15), zero_std=young).decision is not Decision.KILL


def test_low_prediction_alone_is_watch_and_confidence_rises_with_support() -> None:
    v = decide(analyse(RunSeries(entropy=entropy_curve(0.2, 0.1))), None, Prediction(0.03, 0.0, 0.06, "prior"))
    assert v.decision is Decision.WATCH
    kill_alone = verdict_for(entropy_curve(0.3, 0.6))
    kill_backed = verdict_for(entropy_curve(0.3, 0.6), Features(entropy=0.1))
    assert kill_alone.decision is kill_backed.decision is Decision.KILL
    assert 0.5 <= kill_alone.confidence < kill_backed.confidence <= 1


def test_reason_renders_a_one_line_audit_string() -> None:
    assert Reason("entropy drop", 0.64, 0.5, ">", 10, 150, "kill").render() == "entropy drop 0.64 > 0.50 (steps 10→150)"
    assert Reason("step", 12, 20, "<", None, None, "hold", "warm-up").render() == "step 12 < 20: warm-up"


DROPS = st.one_of(st.floats(0.0, 0.35), st.floats(0.7, 0.95))
EVERY = st.sampled_from([1, 2, 5, 10, 25, 50])


@settings(max_examples=60, deadline=None)
@given(h0=st.floats(0.05, 3.0), drop=DROPS, every=EVERY, shape=st.sampled_from(["exp", "linear"]))
def test_verdict_does_not_change_with_logging_frequency(h0: float, drop: float, every: int, shape: str) -> None:
    dense = verdict_for(entropy_curve(h0, drop, last=300, shape=shape)).decision
    sparse = verdict_for(entropy_curve(h0, drop, last=300, every=every, shape=shape)).decision
    assert sparse is dense
    assert dense is (Decision.KILL if drop > 0.5 else Decision.CONTINUE)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(0, 500), max_size=60),
    features=st.builds(Features, entropy=st.floats(0, 1), headroom=st.floats(0, 10),
                       degenerate_fraction=st.floats(0, 1)),
)
def test_nan_only_or_empty_series_never_kill(steps: list[int], features: Features) -> None:
    nan = Curve.of(steps, [math.nan] * len(steps))
    monitor = analyse(RunSeries(entropy=nan, reward=nan, zero_std=nan))
    assert decide(monitor, features).decision is not Decision.KILL
    assert decide(None, features).decision is not Decision.KILL


@settings(max_examples=80, deadline=None)
@given(drop=DROPS, every=st.sampled_from([1, 5, 10]), data=st.data(),
       outlier=st.sampled_from([math.nan, 0.0, 0.02, 20.0, -1.0]))
def test_a_single_outlier_never_flips_a_verdict(drop: float, every: int, data: st.DataObject, outlier: float) -> None:
    clean = entropy_curve(0.5, drop, last=300, every=every)
    i = data.draw(st.integers(0, len(clean) - 1))
    values = list(clean.values)
    values[i] = outlier if outlier != 20.0 else values[i] * 20
    dirty = replace(clean, values=tuple(values)) if math.isfinite(outlier) else Curve.of(clean.steps, values)
    assert verdict_for(dirty).decision is verdict_for(clean).decision
