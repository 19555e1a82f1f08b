"""Predicted final pass@10: the paper's Qwen ladder, a ladder spanning both sides of the SFT-depth hump, the
entropy–performance trajectory, fitting on history, and the `rank` command."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from rankinv.cli import main
from rankinv.monitor import Curve, RunSeries, analyse
from rankinv.predict import Features, features_from_counts, features_from_report, fit, predict, prior, trajectory
from rankinv.stats import spearman
from tests.support.reports import make_report

QWEN = Path(__file__).parent / "data" / "paper_qwen_ladder.json"


def rank_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["rank", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_qwen_ladder_prior_beats_pass1_and_puts_one_epoch_first(capsys: pytest.CaptureFixture[str]) -> None:
    out = rank_json(QWEN, capsys)
    assert out["candidates"][0]["name"] == "1.0 epochs"
    assert out["spearman_predicted"] >= 0.7
    assert out["spearman_pass1"] == pytest.approx(-0.9)
    assert all(c["basis"] == "prior" and c["lo"] <= c["predicted"] <= c["hi"] for c in out["candidates"])


def test_rank_text_prints_both_spearman_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rank", str(QWEN)]) == 0
    text = capsys.readouterr().out
    assert "Spearman(predicted, actual) = +0.70" in text
    assert "Spearman(pass@1, actual) = -0.90" in text


def hump_ladder(seed: int = 0, prompts: int = 200, n: int = 16) -> list[tuple[Features, float]]:
    """Rungs from too little SFT to collapse, built from per-prompt pass counts like a real triage.

    too little: near-zero pass rates, high entropy; middle: moderate pass rates, healthy entropy; deep: higher
    pass@1 but polarised (prompts always or never solved) and low entropy. The hand-set "actual" follows the
    science: the middle ends best.
    """
    rng = np.random.default_rng(seed)
    rungs = [  # name, Beta(a, b) of per-prompt p, entropy (nats), outcome
        ("0.2 epochs", (0.3, 25.0), 1.40, 0.20),
        ("1 epoch", (1.2, 2.5), 0.45, 0.80),
        ("4 epochs", (0.25, 0.3), 0.10, 0.55),
        ("8 epochs", (0.12, 0.12), 0.04, 0.45),
    ]
    out = []
    for name, (a, b), entropy, outcome in rungs:
        c = rng.binomial(n, rng.beta(a, b, size=prompts))
        out.append((features_from_counts(c, n, group_size=8, entropy=entropy, name=name), outcome))
    return out


def write_csv(path: Path, ladder: list[tuple[Features, float]]) -> Path:
    fields = ["name", "group_size", "entropy", "degenerate_fraction", "never_solved_fraction", "headroom", "actual"]
    ks = sorted({k for f, _ in ladder for k, _ in f.pass_at_k})
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields + [f"pass@{k}" for k in ks])
        for f, y in ladder:
            curve = dict(f.pass_at_k)
            writer.writerow([f.name, f.group_size, f.entropy, f.degenerate_fraction, f.never_solved_fraction,
                             f.headroom, y] + [curve.get(k, "") for k in ks])
    return path


def test_hump_ladder_ranks_the_middle_first_where_pass1_and_entropy_alone_do_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ladder = hump_ladder()
    by_pass1 = max(ladder, key=lambda r: r[0].pass1)[0].name
    by_entropy = max(ladder, key=lambda r: r[0].entropy)[0].name
    assert by_pass1 != "1 epoch" and by_entropy != "1 epoch", "the ladder must defeat both single measures"
    too_little = ladder[0][0]
    assert too_little.headroom < 1 and too_little.degenerate_fraction > 0.75
    out = rank_json(write_csv(tmp_path / "hump.csv", ladder), capsys)
    assert out["candidates"][0]["name"] == "1 epoch"
    assert out["spearman_predicted"] > out["spearman_pass1"]


def test_prior_sees_both_failure_modes() -> None:
    healthy = Features(pass_at_k=((1, 0.3),), entropy=0.5)
    starved = Features(pass_at_k=((1, 0.005),), entropy=1.5)  # p far below p*(8): groups all fail
    collapsed = Features(pass_at_k=((1, 0.3),), entropy=0.02)  # groups all agree
    p_h, p_s, p_c = (prior(f).estimate for f in (healthy, starved, collapsed))
    assert p_h > p_s and p_h > p_c
    lower = prior(Features(pass_at_k=((1, 0.3),), entropy=0.2)).estimate
    assert p_c < lower < p_h, "more entropy, more predicted pass@10, other things equal"


def test_unknown_pass_rate_gives_no_number_not_a_guess() -> None:
    p = prior(Features(entropy=0.3))
    assert math.isnan(p.estimate) and "no pass rate" in p.basis


def law_run(a: float, b: float, steps: int = 60) -> RunSeries:
    """A run that obeys R = -a e^H + b while entropy falls."""
    s = list(range(1, steps + 1))
    h = [1.0 * math.exp(-0.02 * t) for t in s]
    return RunSeries(entropy=Curve.of(s, h), reward=Curve.of(s, [-a * math.exp(x) + b for x in h]))


def test_trajectory_recovers_the_entropy_performance_law() -> None:
    m = analyse(law_run(a=0.3, b=1.0))
    t = trajectory(m)
    assert t is not None
    terms = dict(t.terms)
    assert terms["a"] == pytest.approx(0.3, rel=1e-6)
    assert terms["reward_at_spent_entropy"] == pytest.approx(0.7, rel=1e-6)
    assert t.lo <= t.estimate <= t.hi


def test_a_collapsed_run_samples_one_try_whatever_its_triage_said() -> None:
    """Same reward, same triage diversity: the run whose entropy is spent is predicted lower (pass@10 -> pass@1)."""
    s = list(range(1, 41))
    reward = Curve.of(s, [0.5] * 40)
    healthy = analyse(RunSeries(entropy=Curve.of(s, [1.0] * 40), reward=reward))
    collapsed = analyse(RunSeries(entropy=Curve.of(s, [max(1.0 - 0.1 * t, 1e-4) for t in s]), reward=reward))
    t_healthy = trajectory(healthy, diversity=1.0)
    t_collapsed = trajectory(collapsed, diversity=1.0)
    assert t_healthy is not None and t_collapsed is not None
    assert t_collapsed.estimate == pytest.approx(0.5, abs=0.01)  # no entropy left: ten samples are one
    assert t_healthy.estimate > 0.9


def test_prediction_blends_the_trajectory_once_rl_runs() -> None:
    f = Features(pass_at_k=((1, 0.2),), entropy=0.3)
    m = analyse(law_run(a=0.3, b=1.0))
    blended = predict(f, m)
    assert blended.basis == "prior+trajectory"
    weight = dict(blended.terms)["trajectory_weight"]
    assert 0 < weight < 1
    assert predict(f).basis == "prior"
    assert trajectory(analyse(RunSeries())) is None


def test_the_trajectory_may_pass_the_coverage_but_not_the_reach(tmp_path: Path) -> None:
    """A run whose reward climbs to 1 on a checkpoint with half its prompts never solved: the trajectory part is
    read up to the prior's reach (coverage plus what the mixed groups reach), not stopped at the coverage."""
    f = features_from_report(make_report(tmp_path, [8] * 20 + [0] * 20, n=16))
    terms = dict(prior(f).terms)
    s = list(range(1, 61))
    rising = analyse(RunSeries(entropy=Curve.of(s, [1.0] * 60), reward=Curve.of(s, [t / 60 for t in s])))
    assert terms["coverage"] == pytest.approx(0.5) and 0.5 < terms["reach"] < 1.0
    alone = predict(f)
    blended = predict(f, rising)
    w = dict(blended.terms)["trajectory_weight"]
    assert 0 < w < 1
    # the trajectory part sits at the reach (its reward, read as pass@10, would pass it), not at the coverage
    assert blended.estimate == pytest.approx((1 - w) * alone.estimate + w * terms["reach"])


def test_fit_on_history_reports_leave_one_out_metrics() -> None:
    rng = np.random.default_rng(1)
    history = []
    for _ in range(14):
        h, p = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.4)
        drop = rng.uniform(0.1, 0.8)
        y = 0.4 + 0.5 * h - 0.3 * drop + rng.normal(0, 0.02)
        history.append((Features(pass_at_k=((1, p),), entropy=h, rl_drop=drop), y))
    model = fit(history)
    assert model.n == 14 and "rl_drop" in model.columns
    assert model.loo_spearman > 0.8 and model.loo_mae < 0.08
    pred = model.predict(history[0][0])
    assert pred.basis.startswith("fitted on 14 runs")
    assert abs(pred.estimate - history[0][1]) < 0.1
    with pytest.raises(ValueError, match="at least 5 finished runs"):
        fit(history[:3])


def test_features_from_counts_match_the_estimators() -> None:
    f = features_from_counts([0, 16, 8, 2], 16, group_size=8, entropy=0.3)
    assert f.pass1 == pytest.approx((0 + 1 + 0.5 + 0.125) / 4)
    assert f.never_solved_fraction == pytest.approx(0.25)
    assert dict(f.pass_at_k)[16] == pytest.approx(0.75)
    assert 10 in dict(f.pass_at_k)
    ordered = spearman([k for k, _ in f.pass_at_k], [v for _, v in f.pass_at_k])
    assert ordered == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"ladder": 3}', "expected a 'ladder' list"),
        ('{"ladder": [{"entropy": 0.2}]}', "needs a pass rate"),
        ('{"ladder": [{"pass1": "high"}]}', "expected a number"),
    ],
)
def test_bad_ladders_are_clean_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "ladder.json"
    path.write_text(content)
    assert main(["rank", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert main(["rank", str(tmp_path / "missing.json")]) == 2


def write_run(root: Path, name: str, drop: float, outcome: float, every: int = 5) -> Path:
    """A finished GRPO run as rankinv's TRL callback writes it: manifest plus one JSON record per logging step."""
    run = root / name
    run.mkdir(parents=True)
    (run / "rankinv-run.json").write_text(json.dumps({"kind": "GRPO", "group_size": 8, "logging_steps": every}))
    lines = []
    for step in range(every, 201, every):
        x = min(max(step - 10, 0), 140) / 140
        logs = {"entropy": 0.3 * (1 - drop) ** x, "reward": 0.2 + 0.2 * x, "frac_reward_zero_std": 0.4}
        if step % 50 == 0:
            logs["eval/pass@10"] = outcome * (0.9 + 0.1 * step / 200)
        lines.append(json.dumps({"step": step, "time": 1.7e9 + step, "logs": logs}))
    (run / "rankinv.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_calibrate_fits_thresholds_and_the_predictor_on_finished_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drops = [0.1, 0.2, 0.3, 0.55, 0.65, 0.75]
    for i, d in enumerate(drops):
        write_run(tmp_path, f"run{i}", d, outcome=0.8 - 0.5 * d)
    assert main(["calibrate", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"] == 6 and out["with_outcome"] == 6
    assert out["fitted"]["n"] == 6 and out["fitted"]["loo_spearman"] > 0.8
    tau2 = next(t for t in out["thresholds"] if t["metric"] == "tau_2")
    assert 0.3 < tau2["threshold"] < 0.55 and tau2["loo_accuracy"] == 1.0
    assert main(["calibrate", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "leave-one-out Spearman" in text and "[monitor] tau_2 = 0.4" in text


def test_calibrate_without_outcomes_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path, "only", 0.2, outcome=0.5)
    (run / "rankinv.jsonl").write_text((run / "rankinv.jsonl").read_text().replace('"eval/pass@10"', '"other"'))
    assert main(["calibrate", str(tmp_path)]) == 0
    assert "measured final pass@10" in capsys.readouterr().out
    assert main(["calibrate", str(tmp_path / "absent")]) == 2


def test_explain_reads_the_starting_checkpoints_triage_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path, "grpo", 0.6, outcome=0.5)
    report = make_report(run, [0, 2, 5, 8, 16, 3, 0, 1])
    report.write(run / "rankinv-triage.json")
    assert main(["explain", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["triage_report"].endswith("rankinv-triage.json")
    assert out["monitor"]["zero_std_expected"] == pytest.approx(report.metrics.degenerate_fraction.estimate)
    assert out["prediction"]["basis"] == "prior+trajectory"
    assert out["outcome_pass10"] == pytest.approx(0.5)
    # Entropy fell 60% while the reward rose 0.2 → 0.4 with 40% of groups degenerate: the groups policy cannot
    # call it collapse (reward still rising), the paper's tau2 rule kills on the drop alone.
    assert out["verdict"]["decision"] == "WATCH"
    assert "reward still rising" in [r["note"] for r in out["verdict"]["reasons"]]
    (tmp_path / "tau2.toml").write_text('[verdict]\nstage2_policy = "tau2"\n')
    assert main(["explain", str(run), "--json", "--config", str(tmp_path / "tau2.toml")]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"]["decision"] == "KILL"


def _pass_at(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from exact binomials (the oracle: not rankinv.passk's product form)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def test_the_prior_interval_follows_its_stated_error_model(tmp_path: Path) -> None:
    """With per-prompt counts the interval is the central 80% of a normal whose variance adds the standard error
    over prompts of each prompt's own pre_i + (R_i - pre_i) L, the between-seed spread and the prior's own misfit;
    R_i is pre_i plus the covered part C_i - pre_i sharpened with the prompt's own share of groups of 8 that differ,
    plus the uncovered share 1 - C_i reached with the share of all prompts whose groups differ."""
    counts = [16] * 32 + [2, 1] + [0] * 6
    f = features_from_report(make_report(tmp_path, counts, n=16))
    p = prior(f)
    learn = dict(p.terms)["learn"]
    # degenerate group of 8 drawn from a prompt's 16 samples: all pass or all fail (exact hypergeometric)
    own = [1.0 - (math.comb(c, 8) + math.comb(16 - c, 8)) / math.comb(16, 8) for c in counts]
    signal = sum(own) / len(own)
    assert dict(p.terms)["signal"] == pytest.approx(signal)
    pre = [_pass_at(16, c, 10) for c in counts]
    reach = [q + s_i * (_pass_at(16, c, 16) - q) + signal * (1.0 - _pass_at(16, c, 16))
             for c, q, s_i in zip(counts, pre, own, strict=True)]
    per = [q + (r - q) * learn for q, r in zip(pre, reach, strict=True)]
    mean = sum(per) / len(per)
    se2 = sum((v - mean) ** 2 for v in per) / (len(per) - 1) / len(per)
    sd = math.sqrt(se2 + 0.06**2 + 0.05**2)
    z = 1.2815515655446004  # the standard normal's 90th percentile
    assert p.estimate == pytest.approx(mean)
    assert (p.lo, p.hi) == pytest.approx((p.estimate - z * sd, min(1.0, p.estimate + z * sd)))
    assert p.lo < p.estimate < p.hi, p
    # Without per-prompt counts (a table of means) the stated half-width and the measured-pass@K ceiling remain.
    means_only = prior(dataclasses.replace(f, prompt_counts=()))
    measured = dict(f.pass_at_k_hi)[16]
    assert means_only.hi == pytest.approx(min(measured, means_only.estimate + 0.15)) or means_only.hi == 1.0
    small = features_from_report(make_report(tmp_path, [8, 7, 5, 3, 2, 1, 0, 0], n=8))
    q = prior(small)
    assert "[" in str(q) and "±" not in str(q)
    # Coverage per prompt (each prompt's own pass@8, two never solved), not the mean-based formula at pass@64:
    assert dict(q.terms)["coverage"] == pytest.approx(max(0.75, dict(q.terms)["pre"]))
    homogeneous = prior(dataclasses.replace(small, prompt_counts=()))
    # the homogeneous formula over-states coverage; the mean-based reach does not read it (every share at s)
    h = dict(homogeneous.terms)
    assert h["coverage"] > 0.95 and h["reach"] == pytest.approx(h["pre"] + h["signal"] * (1 - h["pre"]))


def test_never_solved_prompts_are_reached_only_through_prompts_that_give_gradient(tmp_path: Path) -> None:
    """Half the prompts never solved: beside prompts whose groups differ they are reached (the prediction passes
    the checkpoint's coverage), beside prompts whose groups all pass they are not (no gradient to learn from)."""
    mixed = prior(features_from_report(make_report(tmp_path, [8] * 20 + [0] * 20, n=16)))
    solved = prior(features_from_report(make_report(tmp_path, [16] * 20 + [0] * 20, n=16)))
    t_mixed, t_solved = dict(mixed.terms), dict(solved.terms)
    assert t_mixed["coverage"] == pytest.approx(0.5) == t_solved["coverage"]
    # groups of 8 from a prompt's 16 samples with 8 passes: degenerate with probability 2 / C(16, 8)
    p_degenerate = (0.5 * 2 / math.comb(16, 8)) + 0.5
    assert t_mixed["reach"] == pytest.approx(0.5 + 0.5 * (1 - p_degenerate))
    assert mixed.estimate > 0.5 + 0.1
    assert t_solved["reach"] == pytest.approx(0.5) and solved.estimate == pytest.approx(0.5)


def test_a_covered_prompt_is_sharpened_only_through_its_own_groups_that_differ(tmp_path: Path) -> None:
    """A prompt solved once in 16 is taken toward its pass@16 (1) only as often as its own groups of 8 differ,
    which a brute-force count of every group of 8 of its 16 samples gives (half of them hold its one pass); a
    prompt solved every time has nothing to sharpen. Without counts every prompt sharpens at the mean share s,
    so the reach is pre + s (1 - pre) (exact arithmetic from the prior's own terms)."""
    from itertools import combinations

    def differ(c: int, n: int = 16, g: int = 8) -> float:
        groups = list(combinations(range(n), g))
        return sum(0 < sum(i < c for i in grp) < g for grp in groups) / len(groups)

    counts = [1] * 10 + [16] * 10 + [0] * 10 + [5] * 10
    p = prior(features_from_report(make_report(tmp_path, counts, n=16)))
    t = dict(p.terms)
    own = {c: differ(c) for c in set(counts)}
    assert own[1] == pytest.approx(0.5) and own[16] == 0.0
    signal = sum(own[c] for c in counts) / len(counts)
    assert t["signal"] == pytest.approx(signal)
    gains = [own[c] * (_pass_at(16, c, 16) - _pass_at(16, c, 10)) + signal * (1.0 - _pass_at(16, c, 16))
             for c in counts]
    assert t["reach"] == pytest.approx(t["pre"] + sum(gains) / len(gains))
    assert p.estimate == pytest.approx(t["pre"] + (t["reach"] - t["pre"]) * t["learn"])
    means = dict(prior(Features(pass_at_k=((1, 0.3), (10, 0.7)), entropy=1.0, degenerate_fraction=0.4)).terms)
    assert means["reach"] == pytest.approx(0.7 + 0.6 * (1 - 0.7))


def test_with_fewer_samples_than_k_the_reach_is_each_prompts_own_and_never_passes_one(tmp_path: Path) -> None:
    """With 8 samples a prompt (k = 10) a solved prompt's pass@8 is 1 and its own reach is 1, a never-solved one's
    is s: the reach is their mean (6 + 2 s) / 8, or the modelled pre-RL pass@10 when that is higher; no
    prediction passes 1 however the counts fall (the mean of prompts whose reach is at most 1)."""
    small = prior(features_from_report(make_report(tmp_path, [8, 7, 5, 3, 2, 1, 0, 0], n=8)))
    t = dict(small.terms)
    assert t["reach"] == pytest.approx(max(t["pre"], (6 + 2 * t["signal"]) / 8))
    rng = np.random.default_rng(3)
    for n in (2, 4, 8, 9, 16):
        for _ in range(25):
            counts = rng.integers(0, n + 1, size=int(rng.integers(2, 12))).tolist()
            p = prior(features_from_counts(counts, n, 8, entropy=float(rng.uniform(0.05, 4.0))))
            assert 0.0 <= p.lo <= p.estimate <= p.hi <= 1.0 and dict(p.terms)["reach"] <= 1.0, (n, counts)


def test_the_trajectory_fit_reads_a_bounded_number_of_points_and_still_finds_the_law(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long run (5,000 paired points) is fitted on at most MAX_SLOPE_POINTS of them, and the law it recovers is
    the one the run was generated from (the oracle: the generating a and b)."""
    import rankinv.predict as P
    from rankinv.monitor import MAX_SLOPE_POINTS

    seen: list[int] = []
    real = P.theil_sen

    def counting(x: np.ndarray, y: np.ndarray) -> object:
        seen.append(len(x))
        return real(x, y)

    monkeypatch.setattr(P, "theil_sen", counting)
    s = list(range(1, 5001))
    h = [1.0 * math.exp(-0.0005 * t) for t in s]
    m = analyse(RunSeries(entropy=Curve.of(s, h), reward=Curve.of(s, [-0.3 * math.exp(x) + 1.0 for x in h])))
    t = trajectory(m)
    assert t is not None and seen == [MAX_SLOPE_POINTS]
    assert dict(t.terms)["a"] == pytest.approx(0.3, rel=1e-6)
    assert dict(t.terms)["points"] == len(m.entropy_reward)  # the blend still weighs every point


def test_a_mean_pass_rate_alone_gives_an_interval_down_to_the_mean() -> None:
    """Reward alone (no triage, no entropy): the prior's d = 1 gives the most pass@10 the mean allows; 10 prompts
    with 4 always solved and 6 never solved have the same mean and pass@10 = 0.4 (exact arithmetic), so the
    interval must reach 0.4. Any other information leaves the interval as it was."""
    counts = [(8, 8)] * 4 + [(0, 8)] * 6
    mean = sum(c for c, _ in counts) / sum(n for _, n in counts)
    all_or_nothing = sum(1 - math.comb(n - c, 8) / math.comb(n, 8) for c, n in counts) / len(counts)
    assert mean == all_or_nothing == 0.4
    only = prior(Features(pass_at_k=((1, mean),)))
    assert only.basis == "mean only"
    assert only.lo == pytest.approx(0.4) and only.estimate > 0.9
    informed = prior(Features(pass_at_k=((1, mean),), entropy=0.5))
    assert informed.basis == "prior" and informed.lo > 0.4
