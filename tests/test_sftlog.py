"""The SFT run's held-out loss at a checkpoint: read from its trainer_state.json into the triage report, and from
there into the predictor's features; untrusted files give no value, never an error."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import pytest

from rankinv.predict import features_from_report
from rankinv.sftlog import read_sft_log
from rankinv.triage.report import TriageReport
from tests.support.reports import make_report

HISTORY = [
    {"loss": 3.1, "step": 10}, {"eval_loss": 2.5, "step": 10}, {"loss": 2.0, "step": 20},
    {"eval_loss": 1.25, "step": 20}, {"eval_loss": 1.5, "step": 30}, {"eval_loss": 2.0, "step": 40},
]


def _state(path: Path, history: object, step: int = 40) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": history}))
    return path


def test_the_last_and_lowest_eval_loss_up_to_the_checkpoint(tmp_path: Path) -> None:
    log = read_sft_log(_state(tmp_path / "checkpoint-40", HISTORY))
    assert log is not None
    assert (log.eval_loss, log.eval_loss_min, log.points, log.step) == (2.0, 1.25, 4, 40)
    assert log.eval_loss_rise == pytest.approx(2.0 / 1.25)


@pytest.mark.parametrize("content", [
    None, "{not json", json.dumps({"log_history": "nope"}), json.dumps([1, 2]),
    json.dumps({"global_step": 5, "log_history": [{"loss": 1.0, "step": 5}]}),
    json.dumps({"global_step": 5, "log_history": [{"eval_loss": "NaN", "step": 5}, {"eval_loss": None}]}),
])
def test_no_eval_loss_or_a_bad_file_gives_none(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "trainer_state.json").write_text(content)
    assert read_sft_log(tmp_path) is None


@pytest.mark.parametrize("plant", ["fifo", "dev-zero"])
def test_a_fifo_or_a_device_in_its_place_gives_none_without_blocking(tmp_path: Path, plant: str) -> None:
    target = tmp_path / "trainer_state.json"
    if plant == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    assert read_sft_log(tmp_path) is None


def test_the_report_carries_it_to_the_features_and_old_reports_still_load(tmp_path: Path) -> None:
    log = read_sft_log(_state(tmp_path / "checkpoint-40", HISTORY))
    report = dataclasses.replace(make_report(tmp_path, [8, 4, 0, 16]), sft=log)
    again = TriageReport.from_json(report.to_json())
    assert again.sft == log
    f = features_from_report(again)
    assert (f.sft_eval_loss, f.sft_eval_loss_rise) == (2.0, pytest.approx(1.6))
    old = json.loads(report.to_json())
    del old["sft"]
    f_old = features_from_report(TriageReport.from_json(json.dumps(old)))
    assert math.isnan(f_old.sft_eval_loss) and math.isnan(f_old.sft_eval_loss_rise)


def test_the_triage_summary_shows_it_only_when_logged(tmp_path: Path) -> None:
    from rich.console import Console

    from rankinv.triage.summary import summary_table

    def text(report: TriageReport) -> str:
        console = Console(record=True, width=160)
        console.print(summary_table(report))
        return console.export_text()

    report = make_report(tmp_path, [8, 4, 0, 16])
    assert "SFT eval loss" not in text(report)
    shown = text(dataclasses.replace(report, sft=read_sft_log(_state(tmp_path / "c", HISTORY))))
    assert "SFT eval loss (held-out data)" in shown and "2.000" in shown and "lowest so far 1.250" in shown
