"""KILL / CONTINUE / WATCH for a run, with ordered reasons a person can audit.

Rules, in the order they are applied:

1. A per-run pin (CONTINUE) wins; the other reasons are still listed.
2. Kill-grade conditions, each of which must *hold* over the last ``hold_steps`` steps and at least ``hold_points``
   logged points (one point never kills): stage 2's relative entropy drop above τ₂ once the decision step is
   reached, or a dead group signal (rolling zero-std fraction above ``max_zero_std``).
   Under ``[verdict] stage2_policy = "groups"`` (the default) those two are then weighed against which
   degenerate groups the run has (``rankinv.groups``): a run that has learnt what it can (all-fail groups no
   more than the mixed ones still learning, all-pass groups outnumbering all-fail ones) spent its entropy
   converging (CONTINUE, with "converging" or "converged: nothing left to learn", never a failure); a run stuck
   on all-fail groups (more of them than mixed ones) while the reward is not clearly rising collapsed (KILL),
   unless it is *starved* (pass rate below p*(g) from its start, entropy not spent: it never had signal, too
   little SFT), *stuck from the start* (its groups already agreed before RL, by stage 1, and the entropy was not
   spent during RL: too much SFT) or *plateaued* (its reward rose clearly from its opening level before the
   groups came to agree: the entropy bought a gain); each is WATCH with its own reason, never a collapse KILL.
   Anything between is WATCH. A third kill condition belongs to this policy alone: *coverage lost*, more groups
   all failing (for every mixed-group pass rate) than the start checkpoint's own prompts would at g (its
   1 - pass@g, from stage 1's per-prompt counts; not for a checkpoint below ``min_headroom``, whose failure is
   starvation), either held over the hold window or shown by a sequential test at ``coverage_alpha``
   (``rankinv.coverage``), judged at the decision step. A stuck run that lost coverage is a collapse even when
   its reward rose: the gain was bought with coverage it began with, so no exception applies; a run the test
   found to have lost coverage is a collapse whether or not its groups are stuck yet.
   ``"tau2"`` keeps the paper's rule (the entropy drop alone kills) for comparison.
3. A run whose triage headroom is at least ``protect_headroom`` is not killed for an entropy drop alone while its
   group signal is no worse than its pass rates predict (the paper's DeepSeek ladder kept its order though entropy
   halved): that reason becomes WATCH.
4. Stage 1 (low entropy, low headroom, many degenerate groups), the projected floor crossing, a falling reward and
   a low predicted pass@10 are WATCH-grade: they support a kill but never cause one.
5. No KILL without RL data or during warm-up: kill-grade reasons are downgraded to WATCH.

Confidence is 1 - Π(1 - strength) over the reasons behind the decision, each strength 0.5 to 0.95 by its
relative margin over the threshold (supporting WATCH reasons count half toward a KILL).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from rankinv.advantage import p_star
from rankinv.config import Config
from rankinv.coverage import CoverageTest, coverage_test
from rankinv.groups import GroupSplit, split
from rankinv.messages import Reason
from rankinv.messages import fmt_value as _fmt
from rankinv.monitor import MonitorResult, StepValue
from rankinv.passk import mean_pass_at_k
from rankinv.predict import Features, Prediction


class Decision(str, Enum):
    KILL = "KILL"
    WATCH = "WATCH"
    CONTINUE = "CONTINUE"


GRADE_ORDER = {"pin": 0, "kill": 1, "protect": 2, "hold": 3, "watch": 4, "info": 5}


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: tuple[Reason, ...]
    confidence: float
    step: int | None

    def summary(self, limit: int = 3) -> str:
        shown = "; ".join(r.render() for r in self.reasons[:limit]) or "no concerns"
        return f"{self.decision.value} ({self.confidence:.0%}): {shown}"

    def audit(self, run: str) -> str:
        """``Run X Step n: KILL (87%): entropy drop 0.64 > 0.50 (steps 10→150); …``"""
        return f"Run {run} Step {self.step if self.step is not None else '-'}: {self.summary()}"


def held(
    series: Sequence[StepValue], condition: Callable[[float], bool], hold_steps: int, hold_points: int
) -> tuple[bool, int | None]:
    """Whether ``condition`` holds at every point of the trailing window; returns (held, window start step).

    The window is the last ``hold_steps`` steps, widened to at least ``hold_points`` points. ``series`` is in step
    order; only its window is read, so the cost does not grow with the run's length.
    """
    if len(series) < hold_points:
        return False, None
    window = series[_window_start(series, hold_steps, hold_points) :]
    return all(condition(v) for _, v in window), window[0][0]


def _window_start(series: Sequence[StepValue], hold_steps: int, hold_points: int) -> int:
    """Index where :func:`held`'s window begins (``series`` in step order, at least ``hold_points`` long)."""
    start = bisect_left(series, series[-1][0] - hold_steps, key=lambda p: p[0])
    return min(start, len(series) - hold_points)


def _entropy_reasons(m: MonitorResult, cfg: Config) -> list[Reason]:
    tau, v = cfg.monitor.tau_2, cfg.verdict
    out: list[Reason] = []
    if m.drops and m.drop_now > tau:
        ok, _ = held(m.drops, lambda d: d > tau, v.hold_steps, v.hold_points)
        grade = "kill" if ok and m.decision_reached else "watch"
        note = "" if grade == "kill" else ("before the decision step" if ok else f"not yet held {v.hold_steps} steps")
        out.append(Reason("entropy drop", m.drop_now, tau, ">", m.baseline_step, m.drops[-1][0], grade, note))
    crossing = m.floor_step
    if crossing is not None and m.drops and m.drop_now <= tau and crossing <= cfg.monitor.decision_step:
        out.append(Reason("projected floor step", crossing, cfg.monitor.decision_step, "<=", None, m.drops[-1][0],
                          "watch", f"entropy heading below {_fmt(m.floor)}"))
    return out


def _signal_reasons(m: MonitorResult, cfg: Config) -> list[Reason]:
    v = cfg.verdict
    roll = m.zero_std_rolling
    out: list[Reason] = []
    if roll and m.zero_std_now >= v.max_zero_std:
        ok, start = held(roll, lambda z: z >= v.max_zero_std, v.hold_steps, v.hold_points)
        span_ok = roll[-1][0] - roll[0][0] >= cfg.monitor.signal_window
        grade = "kill" if ok and span_ok else "watch"
        out.append(Reason("zero-std fraction", m.zero_std_now, v.max_zero_std, ">=", start, roll[-1][0], grade,
                          "group signal dead: groups all agree"))
    elif math.isfinite(m.zero_std_excess) and m.zero_std_excess > 0.2:
        out.append(Reason("zero-std above triage prediction", m.zero_std_excess, 0.2, ">", None, roll[-1][0], "watch"))
    slope = m.reward_slope
    if slope is not None and slope.hi < 0:
        out.append(Reason("reward slope/step", slope.slope, 0.0, "<", None, m.last_step, "watch", "reward falling"))
    return out


CONVERGED = "converged: nothing left to learn"
CONVERGING = "converging"
STARVED = "starved: groups all fail from the start"
PLATEAUED = "plateaued: reward gained, then groups agree"
AGREED = "stuck from the start: groups agreed before RL"
COVERAGE_LOST = "all-fail share above the start's"
COVERAGE_TESTED = "all-fail groups above the start's (sequential test)"
STAGE2_KILLS = ("entropy drop", "zero-std fraction", COVERAGE_LOST, COVERAGE_TESTED)


def start_all_fail(f: Features | None, g: int, cfg: Config) -> float | None:
    """The share of the start checkpoint's prompts whose group of g would all fail, 1 - pass@g (unbiased, from its
    triage's per-prompt counts): what the run's all-fail share is measured against.

    None without counts (or with fewer than g samples a prompt), and when the checkpoint's headroom is below
    ``min_headroom``: its groups mostly fail before any RL, so it has little coverage to lose and its failure is
    starvation (stage 1's), not a collapse."""
    if f is None or not f.prompt_counts or not f.headroom >= cfg.triage.min_headroom:
        return None
    passes, samples = zip(*f.prompt_counts, strict=True)
    if min(samples) < g:
        return None
    return 1.0 - mean_pass_at_k(samples, passes, g)


def _coverage_reasons(m: MonitorResult, f: Features | None, cfg: Config, *, g: int, ceiling: float,
                      stated: int | None) -> list[Reason]:  # fmt: skip
    """Under the groups policy: more groups all fail, for every mixed-group pass rate, than the start
    checkpoint's own prompts would (its 1 - pass@g) -- the run lost coverage it began with, trading pass@g (and
    so pass@10) for agreement. Two ways to know it, each kill-grade at the decision step: the rolling all-fail
    share above the start's at every point of the hold window (as every kill condition), or the sequential test
    of ``rankinv.coverage`` rejecting at ``[verdict] coverage_alpha``, whose error rate holds however often it is
    looked at, so it needs no hold window (with ``stated`` groups a step, :mod:`rankinv.run_groups`). A single
    point above without either is WATCH."""
    start = start_all_fail(f, g, cfg) if cfg.verdict.stage2_policy == "groups" else None
    now = split(m.reward_now, m.zero_std_now, g, ceiling)
    if start is None or now is None:
        return []
    out = [_tested(test, m, cfg, g, start)
           for test in [coverage_test(m.step_signal, start, g, ceiling, cfg.verdict.coverage_alpha,
                                      stated=stated)]
           if test is not None and test.rejected_at is not None]  # fmt: skip
    if not now.all_fail_lo > start:
        return out
    roll, v = m.zero_std_rolling, cfg.verdict
    points = _split_window(m, cfg, g, ceiling)
    held_all = len(points) >= v.hold_points and all(s is not None and s.all_fail_lo > start for _, s in points)
    span_ok = roll[-1][0] - roll[0][0] >= cfg.monitor.signal_window
    grade = "kill" if held_all and span_ok and m.decision_reached else "watch"
    note = (f"groups that all fail {_fmt(now.all_fail_lo)} or more, against {_fmt(start)} of the start's prompts "
            f"(1 - pass@{g} before RL): coverage lost")
    return [Reason(COVERAGE_LOST, now.all_fail_lo, start, ">", points[0][0] if points else None, m.last_step, grade,
                   note), *out]


def _tested(test: CoverageTest, m: MonitorResult, cfg: Config, g: int, start: float) -> Reason:
    """The sequential test's rejection as a reason: kill-grade from the decision step on."""
    alpha = cfg.verdict.coverage_alpha
    note = (f"at least {test.all_fail:.0f} of the {test.groups} groups logged ({test.per_step} a step) all failed, "
            f"against {_fmt(start)} of the start's prompts (1 - pass@{g} before RL); log10 likelihood ratio reached "
            f"log10(1/{alpha:g}) at step {test.rejected_at}: coverage lost (chance <= {alpha:g} for a run that kept "
            "it)")
    grade = "kill" if m.decision_reached else "watch"
    return Reason(COVERAGE_TESTED, math.log10(test.peak), math.log10(1 / alpha), ">=", test.rejected_at, m.last_step,
                  grade, note)


def _split_reason(s: GroupSplit, m: MonitorResult, grade: str, note: str) -> Reason:
    fails = grade != "info"
    value, bound = (s.all_fail, s.mixed) if fails else (s.all_pass, s.all_fail_hi)
    metric = "all-fail group share" if fails else "all-pass group share"
    return Reason(metric, value, bound, ">" if (value > bound) else "<=", None, m.last_step, grade, note)


def _weigh_groups(reasons: list[Reason], m: MonitorResult, features: Features | None, cfg: Config, *, g: int,
                  ceiling: float) -> list[Reason]:  # fmt: skip
    """The "groups" policy (module docstring, rule 2): what the entropy was spent on decides a stage-2 kill."""
    kills = [r for r in reasons if r.grade == "kill" and r.metric in STAGE2_KILLS]
    if cfg.verdict.stage2_policy != "groups" or not kills:
        return reasons
    s = split(m.reward_now, m.zero_std_now, g, ceiling)
    rising = m.reward_slope is not None and m.reward_slope.lo > 0
    if s is None:
        if not rising:
            return reasons
        extra = Reason("reward slope/step", m.reward_slope.slope if m.reward_slope else math.nan, 0.0, ">", None,
                       m.last_step, "watch", "reward still rising; no zero-std log to split groups")
        return [*_regrade(reasons, "watch"), extra]
    if s.learnt:
        dead = any(r.metric == "zero-std fraction" for r in kills)
        name = CONVERGED if dead else CONVERGING
        note = "groups that agree mostly all pass" + ("" if dead else "; reward rising toward its ceiling")
        return [replace(_split_reason(s, m, "info", note), metric=name), *_regrade(reasons, "info")]
    tested = [r for r in kills if r.metric == COVERAGE_TESTED]
    if tested:  # coverage lost at a stated error rate: neither the stuck split nor its hold window is needed
        return reasons
    lost = any(r.metric == COVERAGE_LOST for r in kills)
    if s.stuck and (lost or not rising):
        other = None if lost else (_starved(m, features, kills, cfg, g=g, ceiling=ceiling)
                                   or _agreed_from_start(features, kills, cfg, m) or _plateaued(m, s))
        if other is not None:
            return [other, *_regrade(reasons, "watch")]
        return _collapse(reasons, s, m, cfg, _held_split(m, cfg, g, ceiling))
    note = "reward still rising" if rising else "neither stuck on all-fail groups nor at its reward's ceiling"
    return [*_regrade(reasons, "watch"), _split_reason(s, m, "watch", note)]


def _starved(m: MonitorResult, f: Features | None, kills: list[Reason], cfg: Config, *, g: int,
             ceiling: float) -> Reason | None:  # fmt: skip
    """Groups all fail because the pass rate is below p*(g) from the start, with the entropy intact: GRPO never
    had signal to spend (too little SFT), which is not a collapse.

    Needs stage 1's word for the start (the triage of the checkpoint the run began from found headroom below
    ``min_headroom``) and an entropy neither dropped past τ₂ (the drop rule) nor risen past it against that
    triage: a policy blown up to noise by its first updates also has only failing groups, and is a collapse."""
    if f is None or not f.headroom < cfg.triage.min_headroom or any(r.metric == "entropy drop" for r in kills):
        return None
    if not m.entropy_now <= f.entropy * (1.0 + cfg.monitor.tau_2):
        return None
    limit = cfg.triage.min_headroom * p_star(g)
    start, now = m.reward_start / ceiling, m.reward_now / ceiling
    if not (start < limit and now < limit):
        return None
    note = (f"pass rate {_fmt(start)} → {_fmt(now)}, below p*({g}) from the start, entropy intact: too little SFT "
            "for GRPO to start; not a collapse")
    return Reason(STARVED, now, limit, "<", None, m.last_step, "watch", note)


def _agreed_from_start(f: Features | None, kills: list[Reason], cfg: Config, m: MonitorResult) -> Reason | None:
    """Stuck because the groups already agreed before RL (stage 1 found the start's degenerate-group fraction
    above ``max_degenerate_fraction``), with the entropy not spent during RL (no drop past τ₂) and no coverage
    lost (neither coverage condition kills): the run is where it began, and stage 1 already names that failure
    (too much SFT); GRPO did not collapse it."""
    limit = cfg.triage.max_degenerate_fraction
    if f is None or not f.degenerate_fraction > limit or any(r.metric == "entropy drop" for r in kills):
        return None
    note = (f"groups agreed before RL (degenerate fraction {_fmt(f.degenerate_fraction)} at the start), entropy "
            "not spent, no coverage loss shown: stage 1's failure, not a collapse")
    return Reason(AGREED, f.degenerate_fraction, limit, ">", None, m.last_step, "watch", note)


def _plateaued(m: MonitorResult, s: GroupSplit) -> Reason | None:
    """The reward rose clearly from its opening level before the groups came to agree, and is not falling back:
    the entropy bought a gain and what is left (all-fail groups) gives no gradient. Worth a person's look, not
    a collapse KILL; a reward falling from its gain (slope interval below 0) is losing it, and stays a KILL."""
    gain = m.reward_gain
    falling = m.reward_slope is not None and m.reward_slope.hi < 0
    if gain is None or not gain.significant or falling:
        return None
    note = (f"reward {_fmt(m.reward_start)} → {_fmt(m.reward_now)} (above twice its noise); then more groups all "
            f"fail ({_fmt(s.all_fail)}) than still learn ({_fmt(s.mixed)}): little left GRPO can learn; "
            "not a collapse")
    return Reason(PLATEAUED, gain.gain, 2.0 * gain.se, ">", None, m.last_step, "watch", note)


def _collapse(reasons: list[Reason], s: GroupSplit, m: MonitorResult, cfg: Config,
              held_at: tuple[bool, int | None]) -> list[Reason]:  # fmt: skip
    """All-fail groups dominate and the reward stalls: KILL once the decision step is reached, if it held."""
    if not m.decision_reached:
        found = _split_reason(s, m, "watch", "more groups all fail than still learn; judged at the decision step")
        return [*_regrade(reasons, "watch"), found]
    note = "entropy spent; more groups all fail than still learn; reward stalled"
    held_split, start = held_at
    if not held_split:
        found = _split_reason(s, m, "watch", f"{note}; not yet held {cfg.verdict.hold_steps} steps")
        return [*_regrade(reasons, "watch"), found]
    return [*reasons, replace(_split_reason(s, m, "kill", note), start_step=start)]


def _split_window(m: MonitorResult, cfg: Config, g: int, ceiling: float) -> list[tuple[int, GroupSplit | None]]:
    """The group split at every point of the hold window (from the rolling reward and zero-std share); empty
    with fewer than ``hold_points`` points."""
    roll, v = m.zero_std_rolling, cfg.verdict
    if len(roll) < v.hold_points:
        return []
    window = roll[_window_start(roll, v.hold_steps, v.hold_points) :]
    rewards = m.reward_rolling
    first = bisect_left(rewards, window[0][0], key=lambda p: p[0])
    reward_at = dict(rewards[first:])
    return [(step, split(reward_at.get(step, math.nan), z, g, ceiling)) for step, z in window]


def _held_split(m: MonitorResult, cfg: Config, g: int, ceiling: float) -> tuple[bool, int | None]:
    """Whether the run was stuck at every point of the hold window, as every kill condition must hold."""
    points = _split_window(m, cfg, g, ceiling)
    if not points:
        return False, None
    return all(s is not None and s.stuck for _, s in points), points[0][0]


def _regrade(reasons: list[Reason], grade: str) -> list[Reason]:
    return [replace(r, grade=grade) if r.grade == "kill" and r.metric in STAGE2_KILLS else r for r in reasons]


def _stage1_reasons(f: Features, cfg: Config) -> list[Reason]:
    t = cfg.triage
    checks = [
        ("stage-1 entropy", f.entropy, t.tau_h, "<", f.entropy < t.tau_h),
        ("headroom", f.headroom, t.min_headroom, "<", f.headroom < t.min_headroom),
        ("degenerate fraction", f.degenerate_fraction, t.max_degenerate_fraction, ">",
         f.degenerate_fraction > t.max_degenerate_fraction),
    ]
    return [Reason(name, val, thr, op, None, None, "watch") for name, val, thr, op, bad in checks if bad]


def _protect(reasons: list[Reason], m: MonitorResult, f: Features | None, cfg: Config) -> list[Reason]:
    """Rule 3: high headroom plus an intact group signal turns an entropy-only kill into WATCH."""
    kills = [r for r in reasons if r.grade == "kill"]
    limit = cfg.verdict.protect_headroom
    if f is None or not kills or any(r.metric != "entropy drop" for r in kills) or not f.headroom >= limit:
        return reasons
    expected = m.zero_std_expected if math.isfinite(m.zero_std_expected) else f.degenerate_fraction
    if m.zero_std_now - expected > 0.1 or (math.isfinite(m.zero_std_now) and not math.isfinite(expected)):
        return reasons
    note = "high headroom: entropy drop alone does not kill"
    return [replace(r, grade="watch") if r.grade == "kill" else r for r in reasons] + [
        Reason("headroom", f.headroom, limit, ">=", None, None, "protect", note)
    ]


def _hold_back(reasons: list[Reason], m: MonitorResult | None, cfg: Config) -> list[Reason]:
    """Rule 5: no KILL on missing data or in warm-up."""
    if m is None or m.points == 0:
        hold = Reason("no RL data: never kill on missing data", 0, 1, "", None, None, "hold")
    elif m.last_step is not None and m.last_step < cfg.verdict.warmup_steps:
        # no step window: the step is the value ("step 3 < 6: warm-up", not "step 3 < 6 (step 3)")
        hold = Reason("step", m.last_step, cfg.verdict.warmup_steps, "<", None, None, "hold", "warm-up")
    else:
        return reasons
    return [replace(r, grade="watch") if r.grade == "kill" else r for r in reasons] + [hold]


def _confidence(decision: Decision, reasons: Sequence[Reason], m: MonitorResult | None, cfg: Config) -> float:
    if decision is Decision.CONTINUE:
        seen = (m.last_step or 0) if m is not None else 0
        return round(0.5 + 0.45 * min(1.0, seen / max(cfg.monitor.decision_step, 1)), 3)
    main = "kill" if decision is Decision.KILL else "watch"
    miss = 1.0
    for r in reasons:
        if r.grade == main:
            miss *= 1 - r.strength
        elif main == "kill" and r.grade == "watch":
            miss *= 1 - r.strength / 2
    return round(1 - miss, 3)


def confidence_basis(verdict: Verdict) -> str:
    """What the verdict's percentage means, in words (the rule of ``_confidence``)."""
    if verdict.decision is Decision.CONTINUE:
        return ("CONTINUE confidence grows with the evidence seen: 50% at step 0, plus 45% times the share of "
                "the steps up to the decision step already logged (95% from the decision step on)")
    kind = "KILL" if verdict.decision is Decision.KILL else "WATCH"
    half = "; WATCH reasons count half" if kind == "KILL" else ""
    return (f"{kind} confidence is 1 - product of (1 - strength) over the {kind} reasons{half}; a reason's strength "
            "is 0.5 plus its relative margin over its threshold, at most 0.95. A heuristic weight of evidence, "
            "not a calibrated probability")


def decide(
    monitor: MonitorResult | None,
    features: Features | None = None,
    prediction: Prediction | None = None,
    config: Config | None = None,
    *,
    pinned: bool = False,
    group_size: int | None = None,
    reward_ceiling: float = 1.0,
    groups_per_step: int | None = None,
) -> Verdict:
    """Combine stage 1 (``features``), stage 2 (``monitor``) and the prediction into one verdict.

    ``group_size`` is the run's g (default: the features', else ``[triage] group_size``); ``reward_ceiling`` the
    highest mean reward (``rankinv.evaluate.reward_ceiling``); ``groups_per_step`` the stated groups a logged
    step (``rankinv.run_groups.stated_groups``; default: ``[verdict] groups_per_step``, unset when 0)."""
    cfg = config or Config()
    g = group_size or (features.group_size if features is not None else cfg.triage.group_size)
    reasons: list[Reason] = []
    if monitor is not None:
        reasons += _entropy_reasons(monitor, cfg) + _signal_reasons(monitor, cfg)
        stated = groups_per_step if groups_per_step is not None else (cfg.verdict.groups_per_step or None)
        reasons += _coverage_reasons(monitor, features, cfg, g=g, ceiling=reward_ceiling, stated=stated)
        reasons = _weigh_groups(reasons, monitor, features, cfg, g=g, ceiling=reward_ceiling)
        reasons = _protect(reasons, monitor, features, cfg)
    if features is not None:
        reasons += _stage1_reasons(features, cfg)
    if prediction is not None and prediction.hi < cfg.verdict.min_predicted:
        reasons.append(Reason("predicted pass@10 upper bound", prediction.hi, cfg.verdict.min_predicted, "<",
                              None, None, "watch", prediction.basis))
    reasons = _hold_back(reasons, monitor, cfg)
    grades = {r.grade for r in reasons}
    decision = Decision.KILL if "kill" in grades else Decision.WATCH if "watch" in grades else Decision.CONTINUE
    if pinned:
        decision = Decision.CONTINUE
        reasons.append(Reason("pinned CONTINUE by user", 1, 1, "", None, None, "pin"))
    reasons.sort(key=lambda r: GRADE_ORDER.get(r.grade, 9))
    step = monitor.last_step if monitor is not None else None
    return Verdict(decision, tuple(reasons), _confidence(decision, reasons, monitor, cfg), step)
