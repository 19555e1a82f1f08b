"""The groups per logged step G that RankinvCallback writes into the run manifest, against real (tiny, CPU) TRL
GRPO runs. The oracle is the trainer itself: a reward function that records every batch TRL asks it to score
(its prompts, in TRL's order, and the 0/1 rewards it returned) and a callback that notes how many batches were
scored by each log. The groups behind a logged step are counted from those batches (runs of ``num_generations``
completions of one prompt), the zero-std groups among them counted from the rewards, and both are checked
against the manifest's G and TRL's own logged ``frac_reward_zero_std``. The settings are ones where G is not
the naive per-device batch over g: gradient accumulation, ``steps_per_generation`` above it, several
generations a log, and two processes under ``accelerate launch``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from rankinv.ingest.sources import read_manifest
from rankinv.integrations.trl import RankinvCallback, groups_per_step
from tests.support.tinylm import ToyTask, run_grpo, save_base

pytestmark = pytest.mark.slow
G = 2  # num_generations


@dataclass
class Recorder:
    """Every batch the trainer scored, as (prompts, rewards); ``marks[step]`` = batches scored by that log."""

    batches: list[tuple[list[str], list[float]]] = field(default_factory=list)
    marks: dict[int, int] = field(default_factory=dict)

    def reward(self, prompts: Sequence[str], completions: Sequence[str], **_: Any) -> list[float]:
        out = [float(len(c) % 2) for c in completions]  # 0/1, varied for a tiny untrained model
        self.batches.append((list(prompts), out))
        return out


def _marker(rec: Recorder) -> Any:
    from transformers import TrainerCallback

    class Mark(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "frac_reward_zero_std" in logs:
                rec.marks[state.global_step] = len(rec.batches)

    return Mark()


CASES: dict[str, dict[str, Any]] = {
    # 4 a device x 2 accumulated micro-batches = 8 completions, one generation a step: 4 groups (naive 4/2 = 2)
    "accumulate": {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 2, "max_steps": 6},
    # one generation of 2 x 4 = 8 completions every 4 steps: 4 groups at every fourth step (naive 2/2 = 1)
    "spg4": {"per_device_train_batch_size": 2, "steps_per_generation": 4, "max_steps": 8},
    # one generation of 4 a step, two steps a log: 2 x 2 = 4 groups a logged step (naive 4/2 = 2)
    "log2": {"per_device_train_batch_size": 4, "logging_steps": 2, "max_steps": 8},
}
EXPECTED = {"accumulate": 4, "spg4": 4, "log2": 4}
NAIVE = {"accumulate": 2, "spg4": 1, "log2": 2}


@dataclass(frozen=True)
class Run:
    out: Path
    rec: Recorder
    logs: list[dict[str, Any]]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_base(tmp_path_factory.mktemp("groups-base") / "base")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, base: Path) -> Iterator[dict[str, Run]]:
    root = tmp_path_factory.mktemp("groups")
    out = {}
    for name, settings in CASES.items():
        rec = Recorder()
        trainer, _ = run_grpo(base, ToyTask().prompts(), [rec.reward], root / name, num_generations=G,
                              callbacks=[RankinvCallback(), _marker(rec)], **settings)  # fmt: skip
        logs = [e for e in trainer.state.log_history if "frac_reward_zero_std" in e]
        out[name] = Run(root / name, rec, logs)
    yield out


def _groups(batches: Sequence[tuple[list[str], list[float]]]) -> tuple[int, int]:
    """(groups, zero-std groups) in scored batches: runs of G completions of one prompt."""
    groups = zero = 0
    for prompts, rewards in batches:
        assert len(prompts) % G == 0
        for i in range(0, len(prompts), G):
            assert len(set(prompts[i:i + G])) == 1, "a group is G completions of one prompt"
            groups += 1
            zero += len(set(rewards[i:i + G])) == 1
    return groups, zero


@pytest.mark.parametrize("name", list(CASES))
def test_the_manifest_states_the_groups_behind_each_logged_step(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    stated = read_manifest(run.out)["groups_per_step"]
    assert stated == EXPECTED[name] != NAIVE[name]
    assert run.logs, "TRL logged zero-std shares"
    previous = 0
    for entry in run.logs:
        upto = run.rec.marks[entry["step"]]
        groups, zero = _groups(run.rec.batches[previous:upto])
        previous = upto
        assert groups == stated, (name, entry["step"])  # the trainer scored exactly G groups for this log
        assert entry["frac_reward_zero_std"] == pytest.approx(zero / stated, abs=1e-6), (name, entry["step"])
        assert Fraction(entry["frac_reward_zero_std"]).limit_denominator(64).denominator in {
            d for d in range(1, stated + 1) if stated % d == 0}  # a multiple of 1/G  # fmt: skip
    shares = {round(e["frac_reward_zero_std"] * NAIVE[name], 6) % 1 for e in run.logs}
    assert shares != {0.0}, "some logged share is no multiple of 1/(per-device batch / g): G is not the naive one"


def test_the_manifest_records_the_batch_arguments(runs: dict[str, Run]) -> None:
    batch = read_manifest(runs["spg4"].out)["batch"]
    assert isinstance(batch, dict)
    assert (batch["per_device_train_batch_size"], batch["steps_per_generation"], batch["generation_batch_size"],
            batch["world_size"]) == (2, 4, 8, 1)  # fmt: skip


class _Args:
    def __init__(self, **kw: Any) -> None:
        base = {"num_generations": 4, "generation_batch_size": 32, "gradient_accumulation_steps": 1,
                "steps_per_generation": 1, "num_iterations": 1, "logging_strategy": "steps",
                "scale_rewards": "group", "multi_objective_aggregation": "sum_then_normalize",
                "logging_first_step": False, "per_device_train_batch_size": 32, "world_size": 1}  # fmt: skip
        self.__dict__.update(base | kw)


class _State:
    def __init__(self, logging_steps: int = 1, max_steps: int = 100, global_step: int = 0) -> None:
        self.logging_steps, self.max_steps, self.global_step = logging_steps, max_steps, global_step


def test_no_groups_per_step_where_a_logged_share_is_not_one_count_of_groups() -> None:
    """Against the reading of TRL's source in ``groups_per_step``'s docstring: the cases where logged steps hold
    different numbers of groups, or the share is not a share of groups."""
    assert groups_per_step(_Args(), _State()) == 8
    assert groups_per_step(_Args(), _State(logging_steps=10)) == 80
    assert groups_per_step(_Args(), _State(logging_steps=10, max_steps=105)) is None, "a leftover last log"
    assert groups_per_step(_Args(), _State(logging_steps=10, global_step=15)) is None, "resumed between logs"
    assert groups_per_step(_Args(logging_first_step=True), _State(logging_steps=10)) is None, "an early first log"
    assert groups_per_step(_Args(steps_per_generation=4), _State(logging_steps=2)) == 8, "at most one a log"
    assert groups_per_step(_Args(steps_per_generation=3), _State(logging_steps=2)) is None, "one or two a log"
    assert groups_per_step(_Args(num_iterations=2, gradient_accumulation_steps=2), _State()) == 8
    assert groups_per_step(_Args(scale_rewards="batch"), _State()) is None
    assert groups_per_step(_Args(scale_rewards=True), _State()) == 8
    assert groups_per_step(_Args(multi_objective_aggregation="normalize_then_sum"), _State()) is None
    assert groups_per_step(_Args(logging_strategy="epoch"), _State()) is None
    assert groups_per_step(_Args(generation_batch_size=None), _State()) is None, "TRL before generation_batch_size"
    assert groups_per_step(_Args(generation_batch_size=30), _State()) is None



def test_two_processes_under_accelerate_count_the_groups_of_both(base: Path, tmp_path: Path) -> None:
    """A real two-process run (``accelerate launch``, gloo on the CPU): TRL gathers both processes' completions
    before it groups them, so G counts the groups of both (2 a device x 2 processes = 4; naive 4/2 = 2 a
    device). The oracle: every batch each process scored, the batches rank zero had scored by each log (the
    processes step in lockstep), and TRL's logged share."""
    from tests.support.reallogs import run_job

    out = tmp_path / "run"
    out.mkdir()
    config = {"per_device_train_batch_size": 4, "num_generations": G, "max_steps": 6}
    run_job({"processes": 2, "model_dir": str(base), "out_dir": str(out), "config": config}, out / "stdout.out",
            module="tests.support.groups_job")  # fmt: skip
    manifest = read_manifest(out)
    assert manifest["batch"]["world_size"] == 2  # type: ignore[index]
    stated = manifest["groups_per_step"]
    assert stated == 4
    scored = {r: [json.loads(line) for line in (out / f"scored-rank{r}.jsonl").read_text().splitlines()]
              for r in (0, 1)}  # fmt: skip
    assert len(scored[0]) == len(scored[1])
    marks = [json.loads(line) for line in (out / "marks.jsonl").read_text().splitlines()]
    assert [m["step"] for m in marks] == list(range(1, 7))
    previous = 0
    for mark in marks:
        batches = [(b["prompts"], b["rewards"]) for r in (0, 1) for b in scored[r][previous:mark["scored"]]]
        previous = mark["scored"]
        groups, zero = _groups(batches)
        assert groups == stated, mark
        assert mark["share"] == pytest.approx(zero / stated, abs=1e-6), mark
    assert {round(m["share"] * 2, 6) % 1 for m in marks} != {0.0}, "a share no multiple of 1/2: G is not 4/2"
