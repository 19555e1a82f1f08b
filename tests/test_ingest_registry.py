"""The format registry decides detection, opening and a run's one source; a missing optional reader falls back."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from rankinv.daemon.pipeline.ingest import Ingestor, primary_source

from rankinv.ingest import registry, sources_for_run
from rankinv.ingest.detect import FORMATS
from rankinv.store import Store

CORPUS = Path(__file__).parent / "data" / "reallogs" / "sft-ls2-eval3-tb"


def test_every_format_is_registered_once_with_a_distinct_priority() -> None:
    names = [f.name for f in registry.FORMATS]
    assert tuple(names) == FORMATS and len(set(names)) == len(names)
    assert len({f.priority for f in registry.FORMATS}) == len(names)
    assert registry.get("jsonl").priority < registry.get("tensorboard").priority < registry.get("pydict").priority
    assert max(registry.FORMATS, key=lambda f: f.priority).name == "trainer_state"  # written only at saves


def test_the_callbacks_jsonl_is_read_before_another_jsonl_beside_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(CORPUS / "rankinv.jsonl", run / "rankinv.jsonl")
    (run / "completions.jsonl").write_text('{"step": 1, "prompt": "p", "completion": "c", "reward": 1.0}\n')
    assert [s.path.name for s in primary_source(sources_for_run(run))] == ["rankinv.jsonl"]


def run_with_tensorboard_and_stdout(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "runs").mkdir(parents=True)
    shutil.copy(CORPUS / "runs" / "events.out.tfevents.real", run / "runs" / "events.out.tfevents.real")
    shutil.copy(CORPUS / "stdout.out", run / "slurm-5.out")
    return run


def test_tensorboard_is_preferred_to_stdout_when_it_can_be_read(tmp_path: Path) -> None:
    run = run_with_tensorboard_and_stdout(tmp_path)
    assert [s.fmt for s in primary_source(sources_for_run(run))] == ["tensorboard"]


def test_without_the_tensorboard_extra_the_run_is_read_from_its_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed: importing it fails
    run = run_with_tensorboard_and_stdout(tmp_path)
    store = Store.open(tmp_path / "store.sqlite")
    store.upsert_run("run", str(run), kind="sft")
    ingestor = Ingestor(store)
    assert [s.fmt for s in ingestor.refresh("run", run)] == ["pydict"]
    assert ingestor.ingest_run("run", run) > 0
    assert store.series("run")["loss"].steps == (2, 4, 6, 8, 10, 12)
    ingestor.refresh("run", run)  # reported once per run, not on every re-listing
    notes = [e.message for e in store.events() if e.kind == "ingest"]
    assert len(notes) == 1 and "rankinv[tensorboard]" in notes[0] and "other logs" in notes[0]
    store.close()


def test_metrics_on_a_run_notes_the_unread_tensorboard_and_reads_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rankinv.cli import main

    monkeypatch.setitem(sys.modules, "tensorboard", None)
    run = run_with_tensorboard_and_stdout(tmp_path)
    assert main(["metrics", str(run), "--name", "loss"]) == 0
    captured = capsys.readouterr()
    assert "events.out.tfevents.real not read" in captured.err and "rankinv[tensorboard]" in captured.err
    assert "slurm-5.out" in captured.out


def test_a_log_rounded_to_three_decimals_is_noted_once_per_run(tmp_path: Path) -> None:
    """verl ≤ 0.4's console prints every value with three decimals: kl 0.000 may be 0.0004."""
    run = tmp_path / "verl"
    run.mkdir()
    lines = [f"step:{s} - actor/entropy:{1.2 - 0.01 * s:.3f} - actor/kl_loss:0.000 - critic/score/mean:0.25{s % 10}"
             for s in range(1, 9)]  # fmt: skip
    (run / "train.log").write_text("\n".join(lines) + "\n")
    store = Store.open(tmp_path / "store.sqlite")
    store.upsert_run("verl", str(run), kind="grpo")
    ingestor = Ingestor(store)
    assert ingestor.ingest_run("verl", run) == 24
    with (run / "train.log").open("a") as f:
        f.write("step:9 - actor/entropy:1.110 - actor/kl_loss:0.000 - critic/score/mean:0.259\n")
    ingestor.ingest_run("verl", run)
    notes = [e.message for e in store.events() if e.kind == "ingest"]
    assert notes == ["train.log: every value is rounded to 3 decimals; kl read as 0 may be small nonzero values"]
    store.close()


def test_real_trl_stdout_is_not_taken_for_a_rounded_log() -> None:
    from rankinv.ingest import open_source
    from rankinv.ingest.rounding import rounding

    for case in ("grpo-ls10-first-eval15", "sft-ls2-eval3-tb"):
        stdout = Path(__file__).parent / "data" / "reallogs" / case / "stdout.out"
        assert rounding(open_source(stdout, case).read_new(None)[0]) is None


def test_a_null_in_jsonl_is_a_missing_value_with_a_note(tmp_path: Path) -> None:
    run = tmp_path / "verl"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "data": {"actor/entropy": 0.7}}\n'
                                       '{"step": 2, "data": {"actor/entropy": null}}\n')  # fmt: skip
    store = Store.open(tmp_path / "store.sqlite")
    store.upsert_run("verl", str(run), kind="grpo")
    Ingestor(store).ingest_run("verl", run)
    assert store.series("verl")["entropy"].steps == (1, 2)
    notes = [e.message for e in store.events() if e.kind == "ingest"]
    assert notes == ["metrics.jsonl: 1 value(s) logged as null/NaN kept as missing (first: entropy at step 2)"]
    store.close()


_WITHOUT_TENSORBOARD = "import sys; sys.modules['tensorboard'] = None; from rankinv.cli import main; sys.exit(main())"


def test_runs_says_why_a_tensorboard_only_run_is_of_unknown_kind(tmp_path: Path) -> None:
    """The CLI as a subprocess, with importing tensorboard made to fail (as if the extra were not installed), on a
    real TRL SFT run whose only log is the event file transformers wrote: it names the file and the extra to install
    (the extra's name as the package metadata declares it); with tensorboard installed it is SFT, as its case says."""
    import json
    import re
    import subprocess
    from importlib.metadata import metadata

    requires = metadata("rankinv").get_all("Requires-Dist") or []  # the installed package's own declaration
    extra = next(m[1] for r in requires if r.startswith("tensorboard") and (m := re.search(r'extra == "([^"]+)"', r)))
    run = tmp_path / "root" / "sft-tb"
    (run / "runs").mkdir(parents=True)
    shutil.copy(CORPUS / "runs" / "events.out.tfevents.real", run / "runs")
    argv = ["runs", str(tmp_path / "root")]
    out = subprocess.run([sys.executable, "-c", _WITHOUT_TENSORBOARD, *argv], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert "unknown" in out
    assert "sft-tb: runs/events.out.tfevents.real not read: " in out and f"pip install 'rankinv[{extra}]'" in out
    listed = json.loads(subprocess.run([sys.executable, "-c", _WITHOUT_TENSORBOARD, *argv, "--json"],
                                       capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert [u["path"] for u in listed[0]["unread_logs"]] == [str(run / "runs" / "events.out.tfevents.real")]
    case = json.loads((CORPUS / "case.json").read_text())["jobs"][0]["trainer"]
    installed = json.loads(subprocess.run([sys.executable, "-m", "rankinv", *argv, "--json"], capture_output=True,
                                          text=True, check=True).stdout)  # fmt: skip
    assert installed[0]["kind"] == case.upper() and installed[0]["unread_logs"] == []
