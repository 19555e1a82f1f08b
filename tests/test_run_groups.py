"""The groups a logged step (G) the evaluation reads from the run manifest when the config does not state it.

Oracles: the trainer's own arguments (the collapse ladder's GRPO batch, ``examples.ladder.settings``: 32
completions a step in groups of 8, so 4 groups) and the verdicts the same code gives with G stated in the
config, which the manifest's G must reproduce step for step; for seed 22's 80-step rung whole counts KILL at
the decision step (22) and the bound alone at step 30 (``tests/test_stage2_collapse.py``). A hostile manifest
value changes nothing but a note. The daemon's brain, fed the run record by record with its manifest stored,
stores the verdicts ``rankinv explain`` prints.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from examples.ladder.collect import unpack
from examples.ladder.settings import COLLAPSE
from examples.ladder.settings import groups_per_step as ladder_groups
from rankinv.assess import load_features, primary_series, start_report
from rankinv.cli import main
from rankinv.config import Config, load_config
from rankinv.evaluate import evaluate_run, verdict_history
from rankinv.ingest.sources import MANIFEST_NAME, read_manifest
from rankinv.run_groups import CONFIG, IGNORED, MANIFEST, UNKNOWN, stated_groups
from rankinv.verdict import Decision
from tests.support.brain_replay import replay

RUNS = Path(__file__).resolve().parents[1] / "examples" / "ladder" / "results" / "runs"
HOSTILE: list[Any] = [0, -4, 10**30, 4.0, 4.5, "4", "four", math.nan, math.inf, True, None, [4], {"g": 4},
                      "\x1b[31mred\x1b]0;title\x07" + "x" * 500]  # fmt: skip


def _with(cfg: Config, groups: int) -> Config:
    return dataclasses.replace(cfg, verdict=dataclasses.replace(cfg.verdict, groups_per_step=groups))


@pytest.fixture
def rung(tmp_path: Path) -> tuple[Path, Path]:
    root = unpack(RUNS / "collapse-seed22.tar.gz", tmp_path)
    return root / "rl" / "depth-0080", root / "rl" / "rankinv.toml"


def _state(run: Path, groups: Any) -> dict[str, Any]:
    """Write ``groups`` as the run manifest's groups_per_step (NaN and infinities as Python's json writes them)."""
    manifest = read_manifest(run)
    manifest["groups_per_step"] = groups
    (run / MANIFEST_NAME).write_text(json.dumps(manifest))
    return read_manifest(run)


def _first_kill(run: Path, cfg: Config) -> tuple[int | None, list[tuple[int, Any]]]:
    history = verdict_history(primary_series(run, run.name, cfg), load_features(start_report(run)), cfg,
                              name=run.name, manifest=read_manifest(run))  # fmt: skip
    kills = [s for s, v in history if v.decision is Decision.KILL]
    return (kills[0] if kills else None), history


def test_the_ladders_batch_is_four_groups_a_step() -> None:
    assert (COLLAPSE.rl_batch_size, COLLAPSE.group_size, ladder_groups(COLLAPSE)) == (32, 8, 4)


def test_the_config_wins_then_the_manifest_then_nothing() -> None:
    assert stated_groups({"groups_per_step": 8}, _with(Config(), 4)) == stated_groups({}, _with(Config(), 4))
    assert stated_groups({"groups_per_step": 8}, _with(Config(), 4)).source == CONFIG
    assert (stated_groups({"groups_per_step": 8}, Config()).value, stated_groups({"groups_per_step": 8},
            Config()).source) == (8, MANIFEST)  # fmt: skip
    assert stated_groups({}, Config()).source == stated_groups(None, Config()).source == UNKNOWN
    assert stated_groups({"groups_per_step": None}, Config()).ignored == "", "null: nothing stated, no note"


@pytest.mark.parametrize("value", [v for v in HOSTILE if v is not None], ids=repr)
def test_a_hostile_manifest_value_is_ignored_with_a_note(value: Any) -> None:
    got = stated_groups({"groups_per_step": value}, Config())
    assert got.value is None and got.source == UNKNOWN and got.ignored
    assert len(got.ignored) < 120, "an untrusted value is shown short"
    note = got.note()
    assert note is not None and note.metric == IGNORED and note.grade == "info"
    assert "not known (run manifest groups_per_step" in got.describe()


def test_the_manifests_g_counts_whole_groups_as_the_configs_does(rung: tuple[Path, Path]) -> None:
    run, toml = rung
    cfg = load_config(toml)
    assert cfg.verdict.groups_per_step == 0, "the archived config states no G"
    read_only, _ = _first_kill(run, cfg)
    assert read_only == 30, "G read from the logs: the bound alone"
    _state(run, ladder_groups(COLLAPSE))
    from_manifest, history = _first_kill(run, cfg)
    from_config, expected = _first_kill(run, _with(cfg, 4))
    assert from_manifest == from_config == 22 == cfg.monitor.decision_step
    assert history == expected, "the same verdicts, step for step"
    _state(run, 8)  # a config value overrides the manifest's, even one the logs would take
    assert _first_kill(run, _with(cfg, 4))[1] == expected


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_a_hostile_manifest_value_changes_nothing_but_a_note(rung: tuple[Path, Path], value: Any) -> None:
    run, toml = rung
    cfg = load_config(toml)
    _state(run, None)
    _, plain = _first_kill(run, cfg)
    _state(run, value)
    kill, history = _first_kill(run, cfg)
    assert kill == 30
    for (step, v), (_, w) in zip(history, plain, strict=True):
        notes = [r for r in v.reasons if r.metric == IGNORED]
        assert len(notes) == (value is not None), step
        assert (v.decision, v.confidence, [r for r in v.reasons if r.metric != IGNORED]) == (
            w.decision, w.confidence, list(w.reasons)), step  # fmt: skip


@pytest.mark.parametrize(("value", "config", "expected"), [
    (4, 0, "groups per logged step (G): 4, from the run manifest"),
    (4, 4, "groups per logged step (G): 4, from [verdict] groups_per_step"),
    (None, 0, "groups per logged step (G): not known, the logged zero-std shares fit 4 (a lower bound)"),
    ("eight", 0, "groups per logged step (G): not known (run manifest groups_per_step 'eight' is not a whole "
                 "number from 1 to 1000000: ignored), the logged zero-std shares fit 4 (a lower bound)"),
    (6, 0, "groups per logged step (G): 6, from the run manifest, ignored: the logged zero-std shares need 4"),
])  # fmt: skip
def test_explain_says_where_g_came_from(rung: tuple[Path, Path], value: Any, config: int, expected: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    run, toml = rung
    tmp_path = run.parent.parent
    _state(run, value)
    text = toml.read_text() + (f"groups_per_step = {config}\n" if config else "")
    (tmp_path / "rankinv.toml").write_text(text)
    assert main(["explain", str(run), "--config", str(tmp_path / "rankinv.toml")]) == 0
    out = capsys.readouterr().out
    assert expected in next(line for line in out.splitlines() if "(G)" in line)
    assert main(["explain", str(run), "--config", str(tmp_path / "rankinv.toml"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["groups_per_step"]
    assert got["source"] == (CONFIG if config else MANIFEST if value in (4, 6) else UNKNOWN)
    assert (IGNORED in out) == (value == "eight")


@pytest.mark.parametrize("value", [4, "four", math.nan, 10**30, -1], ids=repr)
def test_the_daemon_stores_what_explain_prints_for_a_run_whose_manifest_states_g(
    rung: tuple[Path, Path], value: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's manifest (read from its directory and kept in the store, as discovery does) states G; the brain
    judges the run point by point; at every step its stored verdict is the evaluation of the log read from the
    directory, and at the end ``explain --json`` prints the stored verdict field by field."""
    from rankinv.daemon.pipeline.brain import Brain

    from rankinv.store import Store

    run, toml = rung
    manifest = _state(run, value)
    cfg = load_config(toml)
    report_path = start_report(run)
    assert report_path is not None
    triage, series = load_features(report_path), primary_series(run, run.name, cfg)
    kills = []
    with Store.open(tmp_path / "s.sqlite") as store:
        brain = Brain(store, cfg)
        for judged in replay(store, brain, run, series, cfg=cfg, manifest=manifest, checkpoint_step=80):
            step, outcome, prefix = judged.step, judged.outcome, judged.prefix
            assert json.dumps(judged.record.manifest, sort_keys=True) == json.dumps(manifest, sort_keys=True)
            assert outcome.verdict == evaluate_run(prefix, triage, cfg, name=run.name, manifest=manifest).verdict
            if outcome.verdict.decision is Decision.KILL:
                kills.append(step)
        stored = store.latest_verdict(run.name)
    assert kills and kills[0] == (22 if value == 4 else 30)
    assert main(["explain", str(run), "--config", str(toml), "--json"]) == 0
    v = json.loads(capsys.readouterr().out)["verdict"]
    assert stored is not None
    assert (stored.decision, stored.confidence, stored.step) == (v["decision"], v["confidence"], v["step"])
    assert [r.render() for r in stored.reasons] == [r["text"] for r in v["reasons"]]
    assert any(IGNORED in r["text"] for r in v["reasons"]) == (value != 4)
