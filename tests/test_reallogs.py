"""Real TRL stdout read at its true steps, checked against the same run's trainer_state.json and callback JSONL.

The corpus in ``tests/data/reallogs/`` was written by real TRL runs on the CPU (``python -m
tests.support.reallogs``; versions in each ``case.json``). The oracles are read here with :mod:`json` alone:
``trainer_state.json``'s ``log_history`` (what the Trainer logged, at which ``step``) and ``rankinv.jsonl`` (what
the callback received in ``on_log``, with ``state.global_step``) — never rankinv's own parser output.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest

from rankinv.ingest import START, open_source
from rankinv.metrics import canonical_name

CORPUS = Path(__file__).parent / "data" / "reallogs"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
STDOUT_DIGITS = 4  # transformers 5 prints every float with 4 significant digits


def state_points(case: str) -> dict[tuple[int, str], float]:
    """(step, canonical name) → value from trainer_state.json, the end-of-training summary left out."""
    history = json.loads((CORPUS / case / "trainer_state.json").read_text())["log_history"]
    out: dict[tuple[int, str], float] = {}
    for entry in history:
        if "train_runtime" in entry:
            continue
        eval_entry = any(k.startswith("eval_") for k in entry)
        for key, value in entry.items():
            if key in ("step", "epoch") or not isinstance(value, int | float):
                continue
            out[(entry["step"], canonical_name(key))] = float(value)
        if not eval_entry:
            out[(entry["step"], "epoch")] = float(entry["epoch"])
    return out


def logging_steps(case: str) -> int:
    return int(json.loads((CORPUS / case / "trainer_state.json").read_text())["logging_steps"])


def read_stdout(path: Path, case: str) -> dict[tuple[int, str], float]:
    found, _ = open_source(path, case, logging_steps=logging_steps(case)).read_new(START)
    out: dict[tuple[int, str], float] = {}
    for p in found:
        assert (p.step, p.name) not in out, f"{p.name} twice at step {p.step}"
        out[(p.step, p.name)] = p.value
    return out


def close(printed: float, exact: float) -> bool:
    if math.isnan(exact):
        return math.isnan(printed)
    return printed == exact or math.isclose(printed, exact, rel_tol=10 ** (1 - STDOUT_DIGITS) / 2, abs_tol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_stdout_matches_trainer_state_step_by_step_and_value_by_value(case: str) -> None:
    want = state_points(case)
    got = read_stdout(CORPUS / case / "stdout.out", case)
    assert sorted(want) == sorted(k for k in got if k in want or not k[1].startswith("eval/"))
    bad = [(k, got[k], v) for k, v in want.items() if not close(got[k], v)]
    assert not bad, bad[:5]


@pytest.mark.parametrize("case", CASES)
def test_stdout_steps_are_the_callbacks_global_steps(case: str) -> None:
    lines = (CORPUS / case / "rankinv.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    train = {r["step"] for r in records if "loss" in r["logs"] and "train_runtime" not in r["logs"]}
    evals = {r["step"] for r in records if "eval_loss" in r["logs"]}
    got = read_stdout(CORPUS / case / "stdout.out", case)
    assert {s for s, n in got if n == "loss"} == train
    assert {s for s, n in got if n == "eval/loss"} == evals


@pytest.mark.parametrize("case", ["grpo-ls10-first-eval15", "grpo-resumed", "sft-ls2-eval3-tb"])
def test_reading_while_the_job_writes_gives_the_same_steps(case: str, tmp_path: Path) -> None:
    """The log grown in random pieces (a dict may arrive before the bar redrawn after it), read after each."""
    data = (CORPUS / case / "stdout.out").read_bytes()
    log = tmp_path / "slurm-77.out"
    log.write_bytes(b"")
    reader = open_source(log, case, "pydict", logging_steps=logging_steps(case))
    rng, offset, pos = random.Random(7), START, 0
    found = []
    while pos < len(data):
        step = rng.randint(1, 400)
        with log.open("ab") as f:
            f.write(data[pos : pos + step])
        pos += step
        new, offset = reader.read_new(offset)
        found.extend(new)
    assert {(p.step, p.name): p.value for p in found} == read_stdout(CORPUS / case / "stdout.out", case)
    assert len(found) == len(read_stdout(CORPUS / case / "stdout.out", case))


def test_printed_dataset_rows_and_config_dicts_are_not_log_records() -> None:
    text = (CORPUS / "grpo-ls10-first-eval15" / "stdout.out").read_text()
    assert "{'prompt': 'after zero comes'" in text and "'zero_stage': 2" in text  # the job printed both
    got = read_stdout(CORPUS / "grpo-ls10-first-eval15" / "stdout.out", "grpo-ls10-first-eval15")
    assert {s for s, n in got if n == "loss"} == {1, 10, 20, 30}
    assert not any(n in ("zero_stage", "lr") for _, n in got)


def test_identical_lines_from_several_ranks_are_read_once(tmp_path: Path) -> None:
    """Two ranks printing each log line (a run whose every process logs): the duplicate is dropped."""
    lines = (CORPUS / "grpo-ls2-notqdm" / "stdout.out").read_text().splitlines(keepends=True)
    doubled = "".join(line + line if line.startswith("{'loss'") else line for line in lines)
    log = tmp_path / "slurm-9.out"
    log.write_text(doubled)
    assert doubled.count("{'loss'") == 8
    got = read_stdout(log, "grpo-ls2-notqdm")
    assert sorted(s for s, n in got if n == "loss") == [2, 4, 6, 8]


def test_tensorboard_written_by_transformers_matches_trainer_state(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    events = CORPUS / "sft-ls2-eval3-tb" / "runs" / "events.out.tfevents.real"
    shutil.copy(events, tmp_path / events.name)
    found, _ = open_source(tmp_path / events.name, "tb").read_new(START)
    got = {(p.step, p.name): p.value for p in found}
    want = state_points("sft-ls2-eval3-tb")
    for (step, name), value in want.items():
        if name in ("loss", "eval/loss", "learning_rate", "grad_norm", "entropy"):
            assert math.isclose(got[(step, name)], value, rel_tol=1e-6), (step, name)


def test_metrics_logging_steps_option_for_a_lone_stdout_without_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from rankinv.cli import main

    log = CORPUS / "grpo-ls2-notqdm" / "stdout.out"  # disable_tqdm: no bar, so the interval decides
    assert main(["metrics", str(log), "--json", "--logging-steps", "2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    want = sorted({s for s, n in state_points("grpo-ls2-notqdm") if n == "loss"})
    assert sorted(r["step"] for r in rows if r["name"] == "loss") == want == [2, 4, 6, 8]


def test_a_rank_duplicate_between_a_dict_and_its_bar_is_dropped(tmp_path: Path) -> None:
    """With bars: the duplicate arrives before the bar redrawn after the original; the step still comes from it."""
    text = (CORPUS / "grpo-ls10-first-eval15" / "stdout.out").read_text()
    lines = text.split("\n")
    doubled = "\n".join(line + "\n" + line[line.rfind("\r") + 1 :] if "{'loss'" in line else line for line in lines)
    log = tmp_path / "slurm-9.out"
    log.write_text(doubled)
    got = read_stdout(log, "grpo-ls10-first-eval15")
    assert sorted(s for s, n in got if n == "loss") == [1, 10, 20, 30]


def test_a_dict_whose_bar_never_comes_is_placed_by_the_logs_own_interval(tmp_path: Path) -> None:
    """The job is cancelled right after a dict: Slurm's cancel line comes where the bar redraw would have."""
    data = (CORPUS / "heldout-grpo-collapse" / "stdout.out").read_bytes()
    cut = data.rindex(b"\n", 0, data.index(b"| 38/40 ["))  # the end of the step-38 dict's line (bar before: 36)
    log = tmp_path / "slurm-11.out"
    log.write_bytes(data[: cut + 1] + b"slurmstepd: error: *** JOB 11 ON localhost CANCELLED AT 2026-12-01 ***\n")
    found, _ = open_source(log, "r").read_new(START)  # a bare log: no trainer_state.json to give the interval
    want = sorted({s for s, n in state_points("heldout-grpo-collapse") if n == "loss"})
    assert sorted(p.step for p in found if p.name == "loss") == want[: want.index(38) + 1]


def test_without_a_training_bar_a_dict_is_read_as_soon_as_its_line_ends(tmp_path: Path) -> None:
    """disable_tqdm: only "Loading weights" bars; the newest dict must not wait for the next one to be read."""
    data = (CORPUS / "grpo-ls2-notqdm" / "stdout.out").read_bytes()
    first_dict_end = data.index(b"\n", data.index(b"{'loss'")) + 1
    log = tmp_path / "slurm-5.out"
    log.write_bytes(data[:first_dict_end])
    found, _ = open_source(log, "r", logging_steps=2).read_new(START)
    assert sorted({p.step for p in found if p.name == "loss"}) == [2]


def _no_bar_run(tmp_path: Path, evidence: str) -> Path:
    """The real ``disable_tqdm`` run's stdout as a Slurm log, beside one source of its logging interval."""
    case = CORPUS / "grpo-ls2-notqdm"
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(case / "stdout.out", run / "slurm-12.out")
    if evidence == "manifest":  # written by the callback during the real run
        shutil.copy(case / "rankinv-run.json", run / "rankinv-run.json")
    elif evidence == "trainer_state":  # the checkpoint the real run saved
        (run / "checkpoint-8").mkdir()
        shutil.copy(case / "trainer_state.json", run / "checkpoint-8" / "trainer_state.json")
    return run


@pytest.mark.parametrize("evidence", ["manifest", "trainer_state"])
def test_a_stdout_without_a_bar_takes_its_interval_from_the_run(tmp_path: Path, evidence: str) -> None:
    """disable_tqdm: no counter is printed, so the run's own logging_steps places each record."""
    from rankinv.daemon.pipeline.ingest import Ingestor

    from rankinv.store import Store

    run = _no_bar_run(tmp_path, evidence)
    assert "it/s" not in (run / "slurm-12.out").read_text().split("{'loss'")[1]  # no training bar at all
    want = state_points("grpo-ls2-notqdm")
    store = Store.open(tmp_path / "store.sqlite")
    store.upsert_run("run", str(run), kind="grpo")
    ingestor = Ingestor(store)
    assert [s.path.name for s in ingestor.refresh("run", run)] == ["slurm-12.out"]
    ingestor.ingest_run("run", run)
    series = store.series("run")
    assert series["loss"].steps == tuple(sorted(s for s, n in want if n == "loss")) == (2, 4, 6, 8)
    entropy = series["entropy"]
    assert entropy.steps == (2, 4, 6, 8)
    assert all(close(v, want[(s, "entropy")]) for s, v in zip(entropy.steps, entropy.values, strict=True))
    store.close()


def test_a_stdout_without_a_bar_and_without_an_interval_is_counted_one_by_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented limit: nothing says the interval, so records are numbered 1, 2, 3 … (not the true 2, 4, …)."""
    from rankinv.cli import main

    run = _no_bar_run(tmp_path, "none")
    assert main(["metrics", str(run), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["step"] for r in rows if r["name"] == "loss"] == [1, 2, 3, 4]
