"""The README's ladder evidence is recomputed from the stored per-seed results, so it cannot drift from them; the
stored runs follow the split fixed in examples/ladder/VALIDATION.md and one frozen set of settings."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from examples.ladder import early, evidence
from examples.ladder.settings import COLLAPSE, FULL, HUMP

ROOT = Path(__file__).resolve().parents[1]


def _spearman(x: list[float], y: list[float]) -> float:
    """Pearson on average ranks (the oracle: numpy only, not rankinv.stats)."""
    def ranks(v: list[float]) -> np.ndarray:
        a = np.asarray(v)
        return np.array([np.mean(np.flatnonzero(np.sort(a) == value)) for value in a])

    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


@functools.cache
def _tables() -> dict[str, str]:
    return evidence.tables()


@pytest.mark.parametrize("name", list(_tables()))
def test_readme_shows_the_tables_recomputed_from_the_stored_runs(name: str) -> None:
    assert _tables()[name] in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_split_and_the_settings_are_the_fixed_ones() -> None:
    ladders = evidence.load()
    assert [(lad.seed, lad.split) for lad in ladders] == [(0, "dev"), (1, "dev"),
                                                          *((s, "held-out") for s in range(2, 26))]
    # the ranking tables keep the eight held-out sets apart (each read only after the changes it validates)
    assert [lad.group for lad in ladders] == (["dev"] * 2 + ["held-out 2–4"] * 3 + ["held-out 5–7"] * 3
                                              + ["held-out 8–10"] * 3 + ["held-out 11–13"] * 3
                                              + ["held-out 14–16"] * 3 + ["held-out 17–19"] * 3
                                              + ["held-out 20–22"] * 3 + ["held-out 23–25"] * 3)
    validation = (ROOT / "examples" / "ladder" / "VALIDATION.md").read_text(encoding="utf-8")
    assert "Development seeds: 0 and 1" in validation and "Held-out seeds: 2, 3 and 4" in validation
    assert "new held-out seeds 5, 6 and 7" in validation and "**seeds 11, 12 and 13** only" in validation
    # the fourth set was run by the code of the commit that fixed it, before any change it validates
    for seed in (11, 12, 13):
        stored = json.loads((evidence.RESULTS / f"hump-seed{seed}.json").read_text())
        assert stored["commit"].startswith("8047611"), seed
    # the fifth set (hump 14-16, digits 3-5 at 30 and 60 GRPO steps) likewise, by the commit that fixed it
    assert "hump seeds 14, 15 and 16" in validation
    assert "digits seeds 3, 4 and 5, each with 30 and with 60" in validation
    fifth = [f"hump-seed{s}" for s in (14, 15, 16)] + [f"digits-seed{s}-rl{k}" for k in (30, 60) for s in (3, 4, 5)]
    for name in fifth:
        assert json.loads((evidence.RESULTS / f"{name}.json").read_text())["commit"].startswith("4e9ab09"), name
    # the sixth set (hump 17-19, digits 6-8 at 30 and 60 GRPO steps), by the commit that pre-registered it
    assert "hump seeds 17, 18 and 19" in validation
    assert "digits seeds 6, 7 and 8, each with 30 and with 60" in validation
    sixth = [f"hump-seed{s}" for s in (17, 18, 19)] + [f"digits-seed{s}-rl{k}" for k in (30, 60) for s in (6, 7, 8)]
    for name in sixth:
        assert json.loads((evidence.RESULTS / f"{name}.json").read_text())["commit"].startswith("d5cf208"), name
    # the seventh set (hump 20-22, digits 9-11 at 30 and 60 GRPO steps), by the commit that pre-registered it, from
    # a checkout of it outside the repository; its rows carry each prompt's answer likelihood
    assert "hump seeds 20, 21 and 22" in validation
    assert "digits seeds 9, 10 and 11, each with 30 and with 60" in validation
    seventh = [f"hump-seed{s}" for s in (20, 21, 22)] + [f"digits-seed{s}-rl{k}" for k in (30, 60) for s in (9, 10, 11)]
    for name in seventh:
        stored = json.loads((evidence.RESULTS / f"{name}.json").read_text())
        assert stored["commit"] == "299bc71b97945f2165281ad85bdcc0c6527c2aee", name
        for r in stored["ladder"]["rows"]:
            assert len(r["answer_probs"]) == len(r["features"]["prompt_counts"]) > 0, name
            assert all(0.0 <= q <= 1.0 for q in r["answer_probs"]), name
    # the seventh hump set and the collapse ladder's third (hump 23-25, collapse 26-28), for the stage-2 change,
    # by the commit that pre-registered them
    assert "**Collapse seeds 26, 27 and 28**" in validation and "**hump seeds 23, 24 and 25**" in validation
    for name in [f"hump-seed{s}" for s in (23, 24, 25)] + [f"collapse-seed{s}" for s in (26, 27, 28)]:
        assert json.loads((evidence.RESULTS / f"{name}.json").read_text())["commit"].startswith("eea578e"), name
    for path in sorted(evidence.RESULTS.glob("hump-seed*.json")):
        stored = json.loads(path.read_text())["ladder"]["settings"]
        expected = dataclasses.replace(HUMP, seed=stored["seed"]).as_dict()
        assert stored == {**expected, "depths": list(HUMP.depths)}, path.name
    digits = evidence.load(task="digits")
    assert [(lad.seed, lad.rl_steps, lad.group) for lad in digits] == [
        (s, k, "dev" if s < 3 else "held-out 3–5" if s < 6 else "held-out 6–8" if s < 9 else "held-out 9–11")
        for k in (30, 60) for s in range(12)]
    for lad in digits:
        stored = json.loads((evidence.RESULTS / f"digits-seed{lad.seed}-rl{lad.rl_steps}.json").read_text())
        assert stored["ladder"]["settings"] == {**dataclasses.replace(FULL, seed=lad.seed, rl_steps=lad.rl_steps)
                                                .as_dict(), "depths": list(FULL.depths)}
    # the collapse ladder: dev seeds 0-1, held-out 20-22 (VALIDATION.md, "The collapse ladder") and 23-25 (its
    # second held-out set, run by the commit that pre-registered it), one setting
    collapse = evidence.load(task="collapse")
    assert [(lad.seed, lad.group) for lad in collapse] == [(0, "dev"), (1, "dev"),
                                                           *((s, "held-out 20–22") for s in (20, 21, 22)),
                                                           *((s, "held-out 23–25") for s in (23, 24, 25)),
                                                           *((s, "held-out 26–28") for s in (26, 27, 28))]
    assert "Held-out seeds **20, 21 and 22**" in validation and "**held-out seeds 23, 24 and 25**" in validation
    for seed in (23, 24, 25):
        stored = json.loads((evidence.RESULTS / f"collapse-seed{seed}.json").read_text())
        assert stored["commit"].startswith("5127d78"), seed
    for lad in collapse:
        stored = json.loads((evidence.RESULTS / f"collapse-seed{lad.seed}.json").read_text())["ladder"]["settings"]
        assert stored == {**dataclasses.replace(COLLAPSE, seed=lad.seed).as_dict(), "depths": list(COLLAPSE.depths)}


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


ARCHIVED = [lad for lad in evidence.load() if early.archive_of(lad).is_file()]


def test_every_seed_with_an_archive_is_in_the_early_table_and_no_other() -> None:
    archived = (0, 1, *range(5, 26))  # seeds 2-4 ran before collect archived RL logs
    assert [lad.seed for lad in ARCHIVED] == list(archived)
    table = _tables()["hump ladder, early RL"]
    seeds = [line.split(" | ")[0].strip("| ") for line in table.splitlines()[2:]]
    assert [s for s in seeds if not s.startswith("mean")] == [str(s) for s in archived for _ in early.STEPS]
    assert sum(s.startswith("mean (2)") for s in seeds) == 3 and sum(s.startswith("mean (3)") for s in seeds) == 21


def _raw(run_dir: Path, key: str, upto: int) -> list[float]:
    """The values of one logged key up to a step, read with json alone (the oracle for the monitor's readings)."""
    rows = [json.loads(line) for line in (run_dir / "rankinv.jsonl").read_text().splitlines()]
    return [r["logs"][key] for r in rows if r["step"] <= upto and key in r["logs"]]


def _last_smoothed(v: list[float]) -> float:
    """The last point of a 3-point running median whose end is the median of itself, its smoothed neighbour and
    the line through the two smoothed neighbours (the monitor's documented smoothing)."""
    inner = [float(np.median(v[i - 1:i + 2])) for i in range(1, len(v) - 1)]
    return float(np.median([v[-1], inner[-1], 2 * inner[-1] - inner[-2]]))


def _all_fail(m: float, z: float, g: int = 8) -> float:
    """All-fail share of the groups from the mean reward m and zero-std share z at mixed-group pass rate 1/2
    (m = a + (1 - z) / 2, a = all-pass share, clipped to its bounds [m - (1-z)(1-1/g), m - (1-z)/g] and to
    [0, z]): the oracle for ``rankinv.groups.split``'s point estimate, written out from its definition."""
    lo, hi = m - (1 - z) * (1 - 1 / g), m - (1 - z) / g
    a = min(hi, max(lo, m - (1 - z) / 2))
    return z - min(z, max(0.0, a))


def test_steps_scored_follow_the_run_length() -> None:
    """VALIDATION.md, "Sixth held-out set": baseline (rl/15), one sixth, and 150/400 of the run."""
    assert early.steps_for(60) == early.STEPS == (4, 10, 22)
    assert early.steps_for(30) == (2, 5, 11)


def test_the_digits_ladder_is_read_from_its_own_archives() -> None:
    digits = [lad for lad in evidence.load(task="digits") if early.archive_of(lad).is_file()]
    assert [(lad.seed, lad.rl_steps) for lad in digits] == [(s, k) for k in (30, 60) for s in range(3, 12)]
    table = _tables()["digits ladder, early RL"]
    rows = [line.split(" | ")[:3] for line in table.splitlines()[2:]]
    steps = [(r[0].strip("| "), r[2]) for r in rows if not r[0].startswith("| mean")]
    assert steps == [(f"{s} ({k} GRPO steps)", str(t)) for k in (30, 60) for s in range(3, 12)
                     for t in early.steps_for(k)]


@pytest.mark.parametrize("seed", [0, 6, 10])
def test_early_readings_follow_the_archived_logs(seed: int, tmp_path: Path) -> None:
    """Each reading against the raw log (json and numpy only); at step 4 the trajectory has one point, so the
    prediction is the stored pre-RL prior; the table's Spearman is the oracle's on the readings."""
    from examples.ladder.collect import unpack

    lad = next(lad for lad in ARCHIVED if lad.seed == seed)
    rungs = early.read_ladder(lad)
    out = unpack(early.archive_of(lad), tmp_path)
    for row, rung in zip(lad.rows, rungs, strict=True):
        run_dir = out / "rl" / f"depth-{row['depth']:04d}"
        assert rung.readings[0].step == 4 and rung.readings[0].predicted == evidence.predict(row).estimate
        for r in rung.readings:
            assert r.entropy == pytest.approx(_last_smoothed(_raw(run_dir, "entropy", r.step)))
            assert r.reward == pytest.approx(np.mean(_raw(run_dir, "reward", r.step)[-10:]))
            assert r.zero_std == pytest.approx(np.mean(_raw(run_dir, "frac_reward_zero_std", r.step)[-10:]))
            assert r.all_fail == pytest.approx(_all_fail(np.mean(_raw(run_dir, "reward", r.step)[-10:]),
                                                         np.mean(_raw(run_dir, "frac_reward_zero_std", r.step)[-10:])))
        assert rung.pass1 == row["pass1"]
    for k in early.STEPS:
        s = early.scores(rungs, k)
        at = [next(x for x in r.readings if x.step == k) for r in rungs]
        assert s["predicted"] == pytest.approx(_spearman([x.predicted for x in at], lad.actual))
        assert s["zero_std"] == pytest.approx(_spearman([-x.zero_std for x in at], lad.actual))


@pytest.mark.parametrize("depth", [10, 160, 640])
def test_the_prediction_at_a_step_is_what_explain_gives_on_the_log_cut_by_hand(
    depth: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rung's log truncated by hand to its first k records, read by `rankinv explain` (which stores the same
    evaluation as the daemon: tests/test_brain_trl.py), gives the early table's prediction at step k."""
    from examples.ladder.collect import unpack
    from rankinv.cli import main

    lad = ARCHIVED[0]
    out = unpack(early.archive_of(lad), tmp_path / "archive")
    source = out / "rl" / f"depth-{depth:04d}"
    readings = early.read_run(source, out / "rl" / "rankinv.toml")
    lines = (source / "rankinv.jsonl").read_text().splitlines(keepends=True)
    for r in readings:
        cut = tmp_path / f"cut-{r.step}" / source.name
        cut.mkdir(parents=True)
        for name in ("rankinv-run.json", "rankinv-triage.json"):
            (cut / name).write_bytes((source / name).read_bytes())
        (cut / "rankinv.jsonl").write_text("".join(lines[: r.step]))
        assert main(["explain", str(cut), "--config", str(out / "rl" / "rankinv.toml"), "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["monitor"]["last_step"] == r.step
        assert shown["prediction"]["estimate"] == pytest.approx(r.predicted, abs=1e-12)
        assert shown["monitor"]["entropy_now"] == pytest.approx(r.entropy)


def test_the_kept_variant_is_the_predictor_and_v0_the_previous_prior() -> None:
    """The variant table of VALIDATION.md scores the formula the code runs: its kept variant gives every stored
    rung the one evaluation path's prediction, its V0 the previous prior shown beside it in the README."""
    from examples.ladder import variants

    by_key = {v.key: v for v in variants.VARIANTS}
    for lad in [*evidence.load(), *evidence.load(task="digits")]:
        for r in lad.rows:
            assert variants.value(by_key[variants.KEPT], r) == pytest.approx(evidence.predict(r).estimate, abs=1e-12)
            assert variants.value(by_key["V0"], r) == pytest.approx(evidence.previous_prior(r), abs=1e-12)
    assert variants.qwen(by_key[variants.KEPT])[0] == pytest.approx(
        float(evidence.qwen_table().splitlines()[2].split(" | ")[1]), abs=0.005)


def test_the_fifth_sets_variant_table_is_recomputed_from_development_data_only() -> None:
    """VALIDATION.md shows the fifth set's variants as ``variants --fifth`` scores them on hump seeds 0-13 and
    digits seeds 0-2; the kept row is the predictor itself. The fifth set's stage-2 rows, kept out of the stage-2
    tables until the stage-2 change then being made was frozen, are in them now, apart from every other set."""
    from examples.ladder import variants

    hump, digits = variants.fifth_dev()
    assert [lad.seed for lad in hump] == list(range(14)) and {lad.seed for lad in digits} == {0, 1, 2}
    table = variants.table5(hump, digits)
    assert table in (ROOT / "examples" / "ladder" / "VALIDATION.md").read_text(encoding="utf-8")
    kept = dict((k, fn) for k, _, fn in variants.FIFTH)["V3"]
    for lad in hump[:2] + digits[:2]:
        for r in lad.rows:
            assert variants.value5(kept, r, lad) == pytest.approx(evidence.predict(r).estimate, abs=1e-12)
    for name in ("stage 2 on the hump ladder", "stage 2 on the hump ladder, noise-aware"):
        assert "| hump ladder, held-out 14–16 seeds | groups | 27 " in _tables()[name]


def test_the_early_rl_variants_table_is_what_the_variants_score_on_development_data() -> None:
    """VALIDATION.md's table of the variants tried for the sixth set, recomputed from the archived dev ladders;
    the unchanged code's row is the early table's mean prediction over the same ladders and steps."""
    from examples.ladder import early_variants as ev

    validation = (ROOT / "examples" / "ladder" / "VALIDATION.md").read_text(encoding="utf-8")
    ladders = ev.dev_ladders()
    assert sorted({(lad.task, lad.rl_steps) for lad in ladders}) == [("digits", 30), ("digits", 60), ("hump", 60)]
    assert len(ladders) == 14 + 6
    got = ev.scores(ladders)
    for name, by_task in got.items():
        hump, digits = ev.cells(by_task["hump"]), ev.cells(by_task["digits"])
        if name.startswith("C(σ="):
            sigma = name[len("C("):-1]
            assert f"{sigma}: {hump}" in validation and f"{sigma}: {digits}" in validation, name
        else:
            row = next(line for line in validation.splitlines() if line.startswith(f"| {name} |"))
            assert row.endswith(f"| {hump} | {digits} |"), name
    dev = [lad for lad in ARCHIVED if lad.seed in ev.DEV["hump"]]
    for j, k in enumerate(early.STEPS):
        means = np.mean([early.scores(early.read_ladder(lad), k)["predicted"] for lad in dev])
        assert got["unchanged code"]["hump"][j] == pytest.approx(means)


def test_the_likelihood_variants_table_is_recomputed_from_development_data_only() -> None:
    """VALIDATION.md's table of the likelihood variants tried for the seventh set, recomputed from the stored dev
    ladders and their re-measured likelihoods (each re-run SFT reproduced the stored checkpoints); the kept row is
    the predictor itself."""
    from examples.ladder import likelihood_variants as lv

    hump, digits = lv.dev()
    assert [lad.seed for lad in hump] == list(lv.HUMP_DEV) and {lad.seed for lad in digits} == set(lv.DIGITS_DEV)
    assert max(lad.seed for lad in hump) < 20 and max(lad.seed for lad in digits) < 9  # none of the seventh set
    for lad in [*hump, *digits]:
        stored = json.loads((evidence.RESULTS / "answers" / f"{lad.task}-seed{lad.seed}.json").read_text())
        assert stored["eval_loss_equal"] and stored["deepest_counts_equal"], (lad.task, lad.seed)
        assert sorted(map(int, stored["answer_probs"])) == [r["depth"] for r in lad.rows]
    assert lv.table(hump, digits) in (ROOT / "examples" / "ladder" / "VALIDATION.md").read_text(encoding="utf-8")
    for lad in hump[:1] + digits[:1]:
        qs = lv.answers_for(lad)
        for r in lad.rows:
            assert lv.v3(lv.rung(r, qs[r["depth"]])) == pytest.approx(evidence.predict(r).estimate, abs=1e-12)


def test_the_likelihood_terms_follow_their_definitions() -> None:
    """sigma and cov against exact binomial sums (fractions), not the closed forms under test."""
    from fractions import Fraction
    from math import comb

    from examples.ladder import likelihood_variants as lv

    for q in (Fraction(0), Fraction(1, 50), Fraction(1, 3), Fraction(1)):
        g = 8
        differ = sum(comb(g, j) * q**j * (1 - q) ** (g - j) for j in range(1, g))
        assert lv.sigma(float(q), g) == pytest.approx(float(differ), abs=1e-12)
        some = sum(comb(64, j) * q**j * (1 - q) ** (64 - j) for j in range(1, 65))
        assert lv.cov(float(q)) == pytest.approx(float(some), abs=1e-12)


def test_the_seventh_set_is_predicted_as_collect_predicted_it_and_scored_apart() -> None:
    """The seventh set (hump 20-22, digits 9-11), read as a test of the prior unchanged since it ran: the one
    evaluation path now gives every rung the prediction and interval collect stored at the pre-registration
    commit, bit for bit; the likelihood variants fixed before it was opened are scored on it alone (each ladder's
    own stored likelihoods, the Spearman against numpy's); its stage-2 rows are not in the stage-2 tables."""
    from examples.ladder import likelihood_variants as lv

    hump, digits = lv.seventh()
    assert [lad.seed for lad in hump] == [20, 21, 22]
    assert [(lad.seed, lad.rl_steps) for lad in digits] == [(s, k) for k in (30, 60) for s in (9, 10, 11)]
    for lad in [*hump, *digits]:
        for r in lad.rows:
            p = evidence.predict(r)
            assert (p.estimate, p.lo, p.hi) == (r["predicted"], r["predicted_lo"], r["predicted_hi"])
        qs = lv.answers_for(lad)
        assert qs == {r["depth"]: r["answer_probs"] for r in lad.rows}
        means = [float(np.mean(qs[r["depth"]])) for r in lad.rows]
        assert lv.likelihood_signal([lad])[0] == pytest.approx(_spearman(means, lad.actual))
    assert _tables()["seventh held-out set, likelihood variants"] == lv.table(hump, digits)
    for name in ("stage 2 on the hump ladder", "stage 2 on the hump ladder, noise-aware"):
        assert "held-out 20–22" not in _tables()[name]
