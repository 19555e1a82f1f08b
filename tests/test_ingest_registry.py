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
