"""verl and OpenRLHF logs written by their own logging code, read at their steps and checked against what was logged.

The corpus in ``tests/data/frameworklogs/`` comes from ``python -m tests.support.framework_logs`` (verl's
``Tracking`` console, file and TensorBoard backends from verl 0.9.1 and 0.4.0, OpenRLHF 0.11.2's logger and W&B
logger, tqdm's ``set_postfix`` as OpenRLHF 0.5.9 uses it). The oracle is each case's ``expected.json``: the values
handed to the framework's logger at each step, read here with :mod:`json` alone.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest

from rankinv.ingest import START, open_source
from rankinv.ingest.detect import detect_format
from rankinv.ingest.rounding import rounding_note
from rankinv.metrics import canonical_name

CORPUS = Path(__file__).parent / "data" / "frameworklogs"


def expected(case: str) -> dict[tuple[int, str], float]:
    records = json.loads((CORPUS / case / "expected.json").read_text())["records"]
    out = {(r["step"], canonical_name(k)): float(v) for r in records for k, v in r["values"].items()}
    assert len(out) == sum(len(r["values"]) for r in records)  # no two logged keys share a name at one step
    return out


def read(path: Path, fmt: str = "auto") -> dict[tuple[int, str], float]:
    found, _ = open_source(path, "r", fmt).read_new(START)
    out: dict[tuple[int, str], float] = {}
    for p in found:
        assert (p.step, p.name) not in out, f"{p.name} twice at step {p.step}"
        out[(p.step, p.name)] = p.value
    return out


def same(got: float, want: float, rel: float = 0.0, abs_: float = 0.0) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    return got == want or math.isclose(got, want, rel_tol=rel, abs_tol=abs_)


def check(case: str, got: dict[tuple[int, str], float], rel: float = 0.0, abs_: float = 0.0) -> None:
    want = expected(case)
    assert sorted(got) == sorted(want)  # every value at its step, nothing else
    bad = [(k, got[k], v) for k, v in want.items() if not same(got[k], v, rel, abs_)]
    assert not bad, bad[:5]


FORMATS = [("verl-0.9.1", "verl_console"), ("verl-0.4.0", "verl_console"), ("openrlhf-0.11.2", "openrlhf"),
           ("openrlhf-0.5.9", "openrlhf")]  # fmt: skip


@pytest.mark.parametrize(("case", "fmt"), FORMATS)
def test_each_log_is_recognised_as_its_framework(case: str, fmt: str) -> None:
    assert detect_format(CORPUS / case / "stdout.out") == fmt


def test_verl_console_full_precision() -> None:
    check("verl-0.9.1", read(CORPUS / "verl-0.9.1" / "stdout.out"))  # np.float64(x) reprs: exact, NaN kept


def test_verl_file_logger_null_is_a_missing_value_with_a_note(tmp_path: Path) -> None:
    from rankinv.daemon.pipeline.ingest import Ingestor

    from rankinv.store import Store

    got = read(CORPUS / "verl-0.9.1" / "metrics.jsonl")
    assert '"actor/grad_norm":null' in (CORPUS / "verl-0.9.1" / "metrics.jsonl").read_text()  # orjson's NaN
    check("verl-0.9.1", got)
    run = tmp_path / "grpo"
    run.mkdir()
    shutil.copy(CORPUS / "verl-0.9.1" / "metrics.jsonl", run / "grpo.jsonl")
    store = Store.open(tmp_path / "store.sqlite")
    store.upsert_run("grpo", str(run), kind="grpo")
    Ingestor(store).ingest_run("grpo", run)
    assert math.isnan(store.series("grpo")["grad_norm"].values[6])  # step 7
    notes = [e.message for e in store.events() if e.kind == "ingest"]
    assert notes == ["grpo.jsonl: 1 value(s) logged as null/NaN kept as missing (first: grad_norm at step 7)"]
    store.close()


def test_verl_0_4_console_is_rounded_to_three_decimals_and_says_so() -> None:
    log = CORPUS / "verl-0.4.0" / "stdout.out"
    check("verl-0.4.0", read(log), abs_=5e-4 + 1e-12)
    found, _ = open_source(log, "r").read_new(START)
    note = rounding_note(found, log.name)
    assert note is not None and "rounded to 3 decimals" in note


def test_verl_validation_names_do_not_collide() -> None:
    got = read(CORPUS / "verl-0.9.1" / "stdout.out")
    assert {n for s, n in got if s == 10 and n.startswith("eval/")} == {
        "eval/math/pass@8", "eval/math/pass@1", "eval/math/score/best@8"}  # fmt: skip


def test_openrlhf_step_lines_at_their_global_steps_with_its_names_mapped() -> None:
    got = read(CORPUS / "openrlhf-0.11.2" / "stdout.out")
    check("openrlhf-0.11.2", got)  # Python reprs: exact
    records = json.loads((CORPUS / "openrlhf-0.11.2" / "expected.json").read_text())["records"]
    step3 = next(r["values"] for r in records if r["step"] == 3 and "policy_loss" in r["values"])
    assert got[(3, "reward_std")] == step3["group_reward_std"]
    assert got[(3, "clipped_ratio")] == step3["response_clip_ratio"]
    assert got[(3, "policy_clip_fraction")] == step3["ppo_clip_ratio"]
    assert got[(3, "loss")] == step3["policy_loss"] and got[(3, "reward_mean")] == step3["reward"]
    assert {s for s, n in got if n == "eval/math/pass@8"} == {5, 10, 15, 20}
    assert math.isnan(got[(7, "kl")])


def test_openrlhf_old_episode_bar_postfix_is_one_record_per_step() -> None:
    got = read(CORPUS / "openrlhf-0.5.9" / "stdout.out")
    check("openrlhf-0.5.9", got, rel=5e-3)  # tqdm prints 3 significant digits
    assert not any(n in ("pg", "rm") for _, n in got)  # the per-micro-batch bars are not steps


@pytest.mark.parametrize("case", ["openrlhf-0.5.9", "openrlhf-0.11.2"])
def test_reading_while_openrlhf_writes_gives_the_same_points(case: str, tmp_path: Path) -> None:
    data = (CORPUS / case / "stdout.out").read_bytes()
    log = tmp_path / "slurm-3.out"
    log.write_bytes(b"")
    reader = open_source(log, "r", "openrlhf")
    rng, offset, pos, found = random.Random(5), START, 0, []
    while pos < len(data):
        size = rng.randint(1, 500)
        with log.open("ab") as f:
            f.write(data[pos : pos + size])
        pos += size
        new, offset = reader.read_new(offset)
        found.extend(new)
    whole = read(CORPUS / case / "stdout.out")
    assert len(found) == len(whole)
    assert all(same(p.value, whole[(p.step, p.name)]) for p in found)


def test_an_openrlhf_step_line_under_ray_with_other_output_around_it(tmp_path: Path) -> None:
    """Ray prefixes an actor's lines; a console log mixing it with a Trainer dict is read as both."""
    lines = (CORPUS / "openrlhf-0.11.2" / "stdout.out").read_text().splitlines()
    step_lines = [line[line.index("INFO") :] for line in lines if "Global step" in line][:3]
    text = "".join(f"(PPOTrainer pid=4242) {line}\n" for line in step_lines)
    log = tmp_path / "train.log"
    log.write_text(text)
    got = read(log)
    assert sorted({s for s, _ in got}) == [1, 2, 3]
    assert got[(2, "loss")] == expected("openrlhf-0.11.2")[(2, "loss")]


@pytest.mark.timeout(20)
def test_hostile_openrlhf_like_lines_are_not_records_and_not_slow() -> None:
    from rankinv.ingest.openrlhf_console import parse_line

    assert parse_line("Episode [1/2]:" + " 1/1 [" * 200_000) is None
    assert parse_line("Episode [1/2]: 1/1 [00:00<?, ?it/s, " + "k=" * 200_000) is None  # no closing bracket
    beyond = parse_line("✨ Global step 99999999999999999999999: {'kl': 1.0}")  # a step beyond 64 bits: refused
    assert beyond is not None and beyond.step is None and beyond.problem == ("too large", "99999999999999999999999")
    assert parse_line("✨ Global step " + "9" * 100_000 + ": {'kl': 1.0}") is None  # not a step at all: not read
    assert parse_line("Global step 3: {'kl': __import__('os').system('true')}") is None  # literals only


@pytest.mark.parametrize("case", ["openrlhf-0.11.2", "openrlhf-0.5.9", "verl-0.9.1"])
def test_a_bare_framework_stdout_is_a_grpo_run(case: str, tmp_path: Path) -> None:
    from rankinv.discovery import discover

    (tmp_path / "job").mkdir()
    shutil.copy(CORPUS / case / "stdout.out", tmp_path / "job" / "slurm-77.out")
    assert [(r.name, r.kind) for r in discover(tmp_path)] == [("job", "GRPO")]


def test_verl_tensorboard_from_its_own_adapter_in_its_own_layout(tmp_path: Path) -> None:
    """verl's ``tensorboard`` backend (torch's SummaryWriter, float32) beside verl's checkpoint folder: one GRPO run."""
    pytest.importorskip("tensorboard")
    from rankinv.discovery import discover
    from tests.test_verl_layout import verl_checkpoint

    shutil.copytree(CORPUS / "verl-0.9.1" / "tensorboard_log", tmp_path / "tensorboard_log")
    verl_checkpoint(tmp_path / "checkpoints" / "reallogs" / "grpo" / "global_step_10")
    (run,) = discover(tmp_path)
    assert run.name == "tensorboard_log/reallogs/grpo" and run.kind == "GRPO"
    assert [c.step for c in run.checkpoints] == [10]
    (events,) = (tmp_path / "tensorboard_log" / "reallogs" / "grpo").glob("events.out.tfevents.*")
    check("verl-0.9.1", read(events), rel=1e-6, abs_=1e-12)


def test_openrlhf_wandb_logger_offline_run_at_its_global_steps() -> None:
    """OpenRLHF's own WandbLogger: ``train/…`` rows at ``train/global_step``, evals at ``eval/global_step``."""
    pytest.importorskip("wandb")
    (run_file,) = (CORPUS / "openrlhf-0.11.2").glob("wandb/offline-run-*/run-*.wandb")
    got = read(run_file)
    synced = {k: got.pop(k) for k in list(got) if k[1] == "eval/epoch"}  # wandb's step_sync of a never-logged key
    assert set(synced) == {(s, "eval/epoch") for s in (5, 10, 15, 20)}
    check("openrlhf-0.11.2", got)  # exact, NaN kept
    assert {s for s, n in got if n == "eval/math/pass@8"} == {5, 10, 15, 20}


@pytest.mark.parametrize(("case", "log"), [("verl-0.9.1", "stdout.out"), ("verl-0.4.0", "stdout.out"),
                                           ("verl-0.9.1", "metrics.jsonl")])  # fmt: skip
def test_discovery_reads_a_verl_runs_last_step_from_its_only_log(case: str, log: str, tmp_path: Path) -> None:
    """``rankinv runs`` and the one-shot scan show the step a verl log reached, with a bare ``slurm-%j.out``
    (or the file logger's JSONL) as the run's only log; the oracle is the last step handed to verl's logger."""
    from rankinv.discovery import inspect_run

    run = tmp_path / "grpo"
    run.mkdir()
    name = "slurm-4102.out" if log == "stdout.out" else "metrics.jsonl"
    shutil.copy(CORPUS / case / log, run / name)
    last = max(r["step"] for r in json.loads((CORPUS / case / "expected.json").read_text())["records"])
    assert inspect_run(run, "grpo").last_step == last == 20


def test_discovery_does_not_take_openrlhfs_bar_redraws_for_steps(tmp_path: Path) -> None:
    """OpenRLHF 0.5.9's episode bar ends at 10/10 on its 20th step: the tail's bar positions are not steps."""
    from rankinv.discovery import inspect_run

    run = tmp_path / "grpo"
    run.mkdir()
    shutil.copy(CORPUS / "openrlhf-0.5.9" / "stdout.out", run / "slurm-7.out")
    last = max(r["step"] for r in json.loads((CORPUS / "openrlhf-0.5.9" / "expected.json").read_text())["records"])
    assert last == 20
    assert inspect_run(run, "grpo").last_step in (None, last)
