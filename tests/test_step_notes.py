"""A record whose step cannot be one is skipped, never placed elsewhere, and said once per file and cause.

Oracles: the lines each test writes (which records are good, on which line each bad one is, how many there are),
the real writers' own files (TensorBoard's EventFileWriter, wandb in offline mode), and exact integer arithmetic
for the line numbers of a log grown in pieces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rankinv.daemon.pipeline.ingest import Ingestor

from rankinv.ingest import START, open_source
from rankinv.ingest.notes import PROBLEMS
from rankinv.ingest.values import step_problem
from rankinv.store import Store
from tests.support.pipeline import ingest_runs

BAD = [  # (the step as JSON text, its cause)
    ("-1", "negative"),
    ("-7", "negative"),
    ("3.5", "fractional"),
    ("NaN", "not finite"),
    ("Infinity", "not finite"),
    ("-Infinity", "not finite"),
    ("true", "not a number"),
    ('"seven"', "not a number"),
    ("9223372036854775808", "too large"),  # 2^63
    ("1" + "0" * 400, "too large"),
    ("1e30", "too large"),
]
SHAPES = {
    "callback": '{{"step": {step}, "time": 1.7e9, "logs": {{"loss": {value}}}}}',
    "verl": '{{"step": {step}, "data": {{"actor/entropy": {value}}}}}',
    "flat": '{{"global_step": {step}, "train/loss": {value}}}',
}
NAME = {"callback": "loss", "verl": "entropy", "flat": "loss"}


def _causes(notes: dict) -> dict[str, tuple[str, int]]:  # type: ignore[type-arg]
    """cause -> (where, count) of a read's notes."""
    return {n.cause: (n.where.describe(), n.count) for n in notes.values()}


def test_step_problem_names_each_cause() -> None:
    assert [step_problem(v) for v in (None, 0, 7, 7.0, "12", " 3 ", 2**53, 2**62)] == [None] * 8
    assert step_problem(-1) == step_problem(-0.5) == step_problem("-3") == "negative"
    assert step_problem(3.5) == step_problem("2.25") == "fractional"
    assert step_problem(float("nan")) == step_problem(float("inf")) == step_problem("-inf") == "not finite"
    assert step_problem(True) == step_problem(False) == step_problem("x") == step_problem([1]) == "not a number"
    assert step_problem(2**63) == step_problem(10**400) == step_problem(1e19) == "too large"
    assert step_problem(-(10**400)) == "negative"
    assert step_problem("1" + "0" * 5000) == "too large" and step_problem("-" + "9" * 5000) == "negative"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_jsonl_records_with_bad_steps_are_skipped_and_noted_where_they_are(shape: str, tmp_path: Path) -> None:
    lines, good = [], {}
    for i, (step, _) in enumerate(BAD):
        lines.append(SHAPES[shape].format(step=i, value=i / 8))  # good records between the bad ones
        good[i] = i / 8
        lines.append(SHAPES[shape].format(step=step, value=99.0))
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    found, _ = open_source(path, "r").read_new(START)
    assert {p.step: p.value for p in found} == good and {p.name for p in found} == {NAME[shape]}
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for i, (_, cause) in enumerate(BAD):
        first.setdefault(cause, 2 * i + 2)  # the bad record of pair i is on line 2i+2
        count[cause] = count.get(cause, 0) + 1
    assert _causes(found.notes) == {c: (f"line {first[c]}", count[c]) for c in first}
    message = next(n.message() for n in found.notes.values() if n.cause == "negative")
    assert message.startswith("metrics.jsonl: line 2: step -1 is negative; that record was skipped (1 more such")
    assert "To fix: log the trainer's global step" in message


def test_a_bad_step_never_takes_the_place_of_a_good_one(tmp_path: Path) -> None:
    """Before, ``{"step": -1}`` was placed at its ordinal position: here that is step 2, which holds a real value."""
    path = tmp_path / "rankinv.jsonl"
    path.write_text('{"step": 1, "logs": {"loss": 1.0}}\n{"step": 2, "logs": {"loss": 2.0}}\n'
                    '{"step": -1, "logs": {"loss": 666.0}}\n{"logs": {"loss": 4.0}}\n')  # fmt: skip
    found, offset = open_source(path, "r").read_new(START)
    assert [(p.step, p.value) for p in found] == [(1, 1.0), (2, 2.0), (4, 4.0)]  # the step-less one: 4th call
    assert offset.records == 4


def test_the_line_number_counts_what_earlier_reads_took(tmp_path: Path) -> None:
    """A log grown in pieces: the note of a bad line read in a later read still names its line in the file."""
    path = tmp_path / "train.jsonl"
    path.write_text("")
    reader = open_source(path, "r")
    offset, line = START, 0
    for piece in range(5):
        rows = [json.dumps({"step": line + k + 1, "loss": 0.5}) for k in range(1000 + piece)]
        line += len(rows)
        with path.open("a") as f:
            f.write("\n".join(rows) + "\n")
        found, offset = reader.read_new(offset)
        assert not found.notes
    with path.open("a") as f:
        f.write('{"step": 1, "loss": 0.1}\n{"step": 2.5, "loss": 0.1}\n')
    found, offset = reader.read_new(offset)
    assert _causes(found.notes) == {"fractional": (f"line {line + 2}", 1)}


def test_a_large_log_of_bad_lines_is_one_note_per_cause_and_other_runs_keep_their_data(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad", tmp_path / "good"
    bad.mkdir()
    good.mkdir()
    n = 300_000  # about 12 MB: more than one 8 MiB block
    with (bad / "rankinv.jsonl").open("w") as f:
        f.write('{"step": 1, "logs": {"entropy": 0.91234}}\n')
        for i in range(n):
            f.write(f'{{"step": {-1 - i}, "logs": {{"entropy": 0.5}}}}\n')
            f.write(f'{{"step": {i}.5, "logs": {{"entropy": 0.5}}}}\n')
    (good / "rankinv.jsonl").write_text("".join(f'{{"step": {s}, "logs": {{"entropy": {s / 7}}}}}\n'
                                                for s in range(1, 51)))  # fmt: skip
    store = Store.open(tmp_path / "store.sqlite")
    try:
        ingestor = ingest_runs(store, {"good": good, "bad": bad})
        with (bad / "rankinv.jsonl").open("a") as f:  # more of the same, read by the same daemon
            f.write('{"step": -5, "logs": {"entropy": 0.5}}\n{"step": 2, "logs": {"entropy": 0.81234}}\n')
        ingestor.ingest_run("bad", bad)
        notes = [e for e in store.events(limit=1000) if e.kind == "ingest"]
        assert sorted(e.message.split(";")[0] for e in notes) == [
            "rankinv.jsonl: line 2: step -1 is negative", "rankinv.jsonl: line 3: step 0.5 is not a whole number"]
        assert {(e.run, e.level) for e in notes} == {("bad", "warning")}
        assert store.series("bad")["entropy"].steps == (1, 2)
        assert store.series("good")["entropy"].values == tuple(s / 7 for s in range(1, 51))
        with (bad / "rankinv.jsonl").open("a") as f:  # a new process (a one-shot scan) finds the note in the store
            f.write('{"step": -6, "logs": {"entropy": 0.5}}\n')
        Ingestor(store).ingest_run("bad", bad)
        assert len([e for e in store.events(limit=1000) if e.kind == "ingest"]) == 2
    finally:
        store.close()


def test_the_note_reaches_status_json_and_the_feed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rankinv.tui.feed import collapse

    from rankinv.cli import main
    from rankinv.store import ReadStore, store_path_for

    root = tmp_path / "runs"
    run = root / "grpo-a"
    run.mkdir(parents=True)
    lines = [f'{{"step": {s}, "logs": {{"entropy": {1 - s / 100}, "reward": 0.5}}}}' for s in range(1, 30)]
    lines.insert(10, '{"step": 18446744073709551616, "logs": {"entropy": 0.1}}')
    (run / "rankinv.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["status", str(root), "--state-dir", str(tmp_path / "state"), "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    want = (f"rankinv.jsonl: line 11: step 18446744073709551616 {PROBLEMS['too large']}; that record was skipped, "
            "its values not stored")  # fmt: skip
    assert [e["run"] for e in events if e["message"].startswith(want)] == ["grpo-a"]
    store = ReadStore.open(store_path_for(root, tmp_path / "state"))
    try:
        assert any(line.text.startswith(want) for line in collapse(store.events()))
        assert len(store.series("grpo-a")["entropy"].steps) == 29
    finally:
        store.close()


def test_rankinv_metrics_prints_the_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rankinv.cli import main

    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1, "loss": 1.0}\n{"step": -3, "loss": 1.0}\n')
    assert main(["metrics", str(path), "--json"]) == 0
    out = capsys.readouterr()
    assert [row["step"] for row in json.loads(out.out)] == [1]
    assert "note: m.jsonl: line 2: step -3 is negative" in out.err


def test_verl_console_and_openrlhf_steps_that_cannot_be_steps(tmp_path: Path) -> None:
    verl = tmp_path / "verl.log"
    rows = [f"step:{s} - actor/entropy:np.float64({1 - s / 100}) - critic/score/mean:0.5" for s in range(1, 40)]
    rows[5] = "(TaskRunner pid=7) step:-6 - actor/entropy:0.2"
    rows[9] = "step:9.5 - actor/entropy:0.2"
    rows[20] = "step:99999999999999999999 - actor/entropy:0.2"
    verl.write_text("\n".join(rows) + "\n")
    for fmt in ("verl_console", "console"):
        found, _ = open_source(verl, "r", fmt).read_new(START)
        assert sorted({p.step for p in found}) == [s for s in range(1, 40) if s not in (6, 10, 21)]
        assert _causes(found.notes) == {"negative": ("line 6", 1), "fractional": ("line 10", 1),
                                        "too large": ("line 21", 1)}  # fmt: skip
    orl = tmp_path / "openrlhf.log"
    orl.write_text("✨ Global step 1: {'policy_loss': 0.5, 'kl': 0.01}\n"
                   "✨ Global step -2: {'policy_loss': 0.5, 'kl': 0.01}\n"
                   "✨ Global step 30000000000000000000: {'policy_loss': 0.5, 'kl': 0.01}\n"
                   "✨ Global step 4: {'policy_loss': 0.4, 'kl': 0.02}\n")  # fmt: skip
    found, _ = open_source(orl, "r", "openrlhf").read_new(START)
    assert sorted({p.step for p in found}) == [1, 4]
    assert _causes(found.notes) == {"negative": ("line 2", 1), "too large": ("line 3", 1)}


def test_trl_stdout_dicts_with_a_bad_step_key(tmp_path: Path) -> None:
    """A stdout dict carrying its own step key (a home-grown print) that cannot be a step: not placed by the bar."""
    out = tmp_path / "slurm-1.out"
    out.write_text("{'loss': 0.5, 'epoch': 0.1}\n{'loss': 0.4, 'step': -3, 'epoch': 0.2}\n"
                   "{'loss': 0.3, 'step': 2.5, 'epoch': 0.3}\n{'loss': 0.2, 'epoch': 0.4}\n")  # fmt: skip
    found, _ = open_source(out, "r", "pydict").read_new(START)
    assert [(p.step, p.value) for p in found if p.name == "loss"] == [(1, 0.5), (2, 0.2)]
    assert _causes(found.notes) == {"negative": ("line 2", 1), "fractional": ("line 3", 1)}


def test_trainer_state_entries_with_bad_steps(tmp_path: Path) -> None:
    history = [{"loss": 1.0, "step": 1}, {"loss": 9.0, "step": -1}, {"loss": 9.0, "step": 2.5},
               {"loss": 2.0, "step": 2}, {"loss": 9.0, "step": 1e30}, {"loss": 9.0, "step": True}]  # fmt: skip
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 2, "log_history": history}))
    found, _ = open_source(tmp_path / "trainer_state.json", "r").read_new(START)
    assert [(p.step, p.value) for p in found] == [(1, 1.0), (2, 2.0)]
    assert _causes(found.notes) == {"negative": ("log_history[1]", 1), "fractional": ("log_history[2]", 1),
                                    "too large": ("log_history[4]", 1), "not a number": ("log_history[5]", 1)}


def test_tensorboard_events_at_a_negative_step(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tests.test_ingest_tensorboard import scalar_event, write

    events = [scalar_event(s, "train/entropy", 1.0 + s) for s in (-2, -1, 0, 1, 2)]
    path = write(tmp_path / "runs", events)
    found, _ = open_source(path, "r").read_new(START)
    assert [(p.step, p.value) for p in found] == [(0, 1.0), (1, 2.0), (2, 3.0)]
    assert _causes(found.notes) == {"negative": ("an event of 'train/entropy'", 2)}


WANDB_WRITER = """
import sys, wandb
run = wandb.init(project="t", mode="offline", dir=sys.argv[1], settings=wandb.Settings(x_disable_stats=True))
for step, logged in [(1, 1), (2, -4), (3, 2.5), (4, 4)]:
    run.log({"train/global_step": logged, "entropy": 1.0 / step}, step=step)
run.finish()
"""


def test_wandb_rows_whose_logged_global_step_cannot_be_one(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
    subprocess.run([sys.executable, "-c", WANDB_WRITER, str(tmp_path)], check=True, env=env, timeout=120,
                   capture_output=True)  # fmt: skip
    (path,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    found, _ = open_source(path, "r").read_new(START)
    assert [(p.step, p.value) for p in found if p.name == "entropy"] == [(1, 1.0), (4, 0.25)]
    assert _causes(found.notes) == {"negative": ("history row _step=2", 1), "fractional": ("history row _step=3", 1)}


def test_explain_says_the_note_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rankinv.cli import main

    run = tmp_path / "grpo-b"
    run.mkdir()
    lines = [f'{{"step": {s}, "logs": {{"entropy": {1 - s / 100}}}}}' for s in range(1, 20)]
    lines.insert(4, '{"step": -4, "logs": {"entropy": 0.2}}')
    (run / "rankinv.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["explain", str(run)]) == 0
    text = capsys.readouterr().out
    assert "  note: rankinv.jsonl: line 5: step -4 is negative; that record was skipped" in text
    assert "entropy points, last step 19" in text
    assert main(["explain", str(run), "--json"]) == 0
    (note,) = json.loads(capsys.readouterr().out)["notes"]
    assert note.startswith("rankinv.jsonl: line 5: step -4 is negative")
