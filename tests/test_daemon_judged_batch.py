"""A batch's judgements are written together (a statement per table) and equal, run by run and round by round, the
core's own slow path: ``evaluate_run`` over the whole series the test wrote (no live monitor, no kept fits).

The oracle is the records this test appended: the stored points must be those values, and every verdict row,
audit line, monitor and prediction the one ``rankinv.evaluate.evaluate_run`` gives for the series up to that
round. Runs are made to change decision (warm-up, a collapse, a run that converges, a pinned run), so new
verdict rows, refreshed ones and the pin all go through the batch.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon.pipeline.brain import Outcome, _headline
from rankinv.daemon.pipeline.health import Health
from rankinv.daemon.pipeline.runs import Pipeline
from rankinv.daemon.pipeline.triage import TriageStage

from rankinv.config import Config
from rankinv.evaluate import evaluate_run
from rankinv.ingest.kept import KeptFiles
from rankinv.metrics import ENTROPY, FRAC_REWARD_ZERO_STD, REWARD_MEAN
from rankinv.monitor import Curve, RunSeries
from rankinv.store import Store
from tests.support.pipeline import NoWatch, count_statements

NAMES = (ENTROPY, REWARD_MEAN, FRAC_REWARD_ZERO_STD)
STEPS = 60


def _values(kind: str, step: int) -> dict[str, float]:
    """The record a run of ``kind`` logs at ``step`` (TRL's names, as the callback writes them)."""
    wobble = 0.01 * math.sin(step * 1.7)
    if kind == "collapse":  # entropy falls past tau_2, groups come to all fail: WATCH, then KILL
        return {"entropy": 1.2 * math.exp(-step / 12) + wobble, "reward": max(0.0, 0.3 - step / 150),
                "frac_reward_zero_std": min(1.0, 0.3 + step / 40)}  # fmt: skip
    if kind == "converge":  # entropy falls while groups all pass: converging, never a failure
        return {"entropy": 1.0 * math.exp(-step / 15) + wobble, "reward": min(1.0, 0.4 + step / 50),
                "frac_reward_zero_std": min(0.95, 0.2 + step / 50)}  # fmt: skip
    return {"entropy": 0.9 + wobble, "reward": 0.35 + wobble, "frac_reward_zero_std": 0.4}


class _Recorder:
    """The actions' side of the pipeline (it only sees outcomes once the batch is committed): keeps them."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def on_outcome(self, outcome: Outcome, run_dir: str) -> None:
        self.outcomes.append(outcome)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Statements issued through the store's connection, by their first words."""
    return count_statements(monkeypatch)


def _oracle(written: list[dict[str, float]], steps: list[int], cfg: Config, name: str, pinned: bool) -> Any:
    """The core's judgement of the series the test wrote (TRL's ``reward`` is the canonical ``reward_mean``)."""
    curves = [Curve.of(steps, [w[key] for w in written]) for key in ("entropy", "reward", "frac_reward_zero_std")]
    return evaluate_run(RunSeries(*curves), None, cfg, name=name, manifest={"kind": "GRPO"}, pinned=pinned)


def _config() -> Config:
    cfg = Config()  # judged every batch; a decision step the test's 60 steps reach
    return dataclasses.replace(cfg, daemon=dataclasses.replace(cfg.daemon, triage_executor="callback",
                                                               evaluate_seconds=0.0),
                               monitor=dataclasses.replace(cfg.monitor, decision_step=30))  # fmt: skip


def _runs(root: Path, kinds: list[str]) -> tuple[dict[str, tuple[Path, str]], dict[str, list[dict[str, float]]]]:
    """One run per kind, its log holding step 1; the logs, and what was written to each."""
    logs = {}
    for i, kind in enumerate(kinds):
        d = root / f"grpo-{i:02d}"
        d.mkdir(parents=True)
        (d / "rankinv-run.json").write_text(json.dumps({"kind": "GRPO"}))
        (d / "rankinv.jsonl").write_text(json.dumps({"step": 1, "logs": _values(kind, 1)}) + "\n")
        logs[d.name] = (d / "rankinv.jsonl", kind)
    return logs, {name: [_values(kind, 1)] for name, (_, kind) in logs.items()}


def _append(logs: dict[str, tuple[Path, str]], written: dict[str, list[dict[str, float]]], step: int) -> None:
    for name, (log, kind) in logs.items():
        values = _values(kind, step)
        written[name].append(values)
        with log.open("a") as f:
            f.write(json.dumps({"step": step, "logs": values}) + "\n")


def _one_statement_each(statements: Counter[str]) -> None:
    assert statements["INSERT OR REPLACE INTO metrics(run_id,"] == 1  # every run's points at once
    assert statements["INSERT OR REPLACE INTO monitor(run_id,"] == 1  # every run's monitor at once
    assert statements["INSERT INTO predictions(run_id, checkpoint_id, subject,"] == 1
    assert statements["UPDATE verdicts SET step ="] == 1  # the decisions that stand, refreshed at once
    assert statements["SELECT name, path, kind, parent,"] == 1  # the records read at once
    assert statements["SAVEPOINT part"] == 0


class _Expected:
    """What the core's slow path says each round: the audit lines of new decisions, each run's decisions."""

    def __init__(self, cfg: Config, pinned: str) -> None:
        self.cfg, self.pinned = cfg, pinned
        self.audit: list[str] = []
        self.got_audit: list[str] = []
        self.heads: dict[str, list[tuple[str, str]]] = {}

    def check(self, store: Store, written: dict[str, list[dict[str, float]]], outcomes: list[Outcome],
              step: int) -> None:  # fmt: skip
        got = {o.run: o for o in outcomes}
        assert set(got) == set(written)
        for name, values in written.items():
            e = _oracle(values, list(range(1, step + 1)), self.cfg, name, name == self.pinned)
            o = got[name]
            assert o.verdict == e.verdict, (name, step)
            head = (e.verdict.decision.value, _headline(e.verdict))
            assert o.is_new == (self.heads[name][-1] != head), (name, step)
            if o.is_new:
                self.audit.append(e.verdict.audit(name))
                self.got_audit.append(o.verdict.audit(o.run))
                self.heads[name].append(head)
            latest = store.latest_verdict(name)
            assert latest is not None and latest.id == o.verdict_id and latest.step == step
            assert (latest.decision, latest.summary) == head and latest.reasons == e.verdict.reasons


def test_each_rounds_batch_of_judgements_is_the_core_slow_path_on_the_written_records(
    tmp_path: Path, statements: Counter[str]
) -> None:
    cfg, root = _config(), tmp_path / "root"
    logs, written = _runs(root, ["collapse", "converge", "steady", "collapse", "steady", "converge"])
    expected, recorder = _Expected(cfg, pinned="grpo-03"), _Recorder()  # a collapsing run its owner pinned
    with Store.open(tmp_path / "s.sqlite") as store:
        pipeline = Pipeline(root, cfg, store, triage=TriageStage(store, cfg, tmp_path / "state", None),
                            health=Health(store, 60.0), dirs=NoWatch(), actions=recorder)  # fmt: skip
        pipeline.kept = KeptFiles()
        pipeline.handle(set(), rescan=True)  # step 1, judged before the pin
        store.set_run_flags("grpo-03", pinned="continue")
        expected.heads = {o.run: [(o.verdict.decision.value, _headline(o.verdict))] for o in recorder.outcomes}
        for step in range(2, STEPS + 1):
            _append(logs, written, step)
            statements.clear()
            recorder.outcomes.clear()
            pipeline.handle({str(log) for log, _ in logs.values()})
            _one_statement_each(statements)
            expected.check(store, written, recorder.outcomes, step)
        assert expected.got_audit == expected.audit
        for name, heads in expected.heads.items():  # one verdict row per decision change, oldest first
            assert [(v.decision, v.summary) for v in sorted(store.verdicts(name, limit=1000), key=lambda v: v.id)
                    ] == heads  # fmt: skip
        assert {"KILL", "WATCH", "CONTINUE"} <= {d for h in expected.heads.values() for d, _ in h}
        assert len(expected.audit) > len(logs)  # decisions changed along the way
        _stored_as_written(store, written, cfg, pinned="grpo-03")
        pipeline.kept.close_all()


def _stored_as_written(store: Store, written: dict[str, list[dict[str, float]]], cfg: Config, pinned: str) -> None:
    """Every point as the test wrote it; every run's monitor and prediction the slow path's."""
    snapshot = {c.run: c for c in store.snapshot().candidates}
    for name, values in written.items():
        e = _oracle(values, list(range(1, STEPS + 1)), cfg, name, name == pinned)
        series = store.series(name, NAMES)
        for canonical, key in zip(NAMES, ("entropy", "reward", "frac_reward_zero_std"), strict=True):
            assert series[canonical].steps == tuple(range(1, STEPS + 1))
            assert series[canonical].values == tuple(w[key] for w in values)
        c, m, p = snapshot[name], e.monitor, e.prediction
        assert m is not None
        assert (c.step, c.live_entropy, c.entropy_drop, c.zero_std_fraction) == (
            m.last_step, m.entropy_now, m.drop_now, m.zero_std_now)
        assert (c.predicted, c.predicted_lo, c.predicted_hi, c.basis) == (p.estimate, p.lo, p.hi, p.basis)


def test_a_judgement_that_fails_marks_its_run_and_the_batch_writes_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, root = _config(), tmp_path / "root"
    for i in range(4):
        d = root / f"grpo-{i}"
        d.mkdir(parents=True)
        (d / "rankinv-run.json").write_text(json.dumps({"kind": "GRPO"}))
        (d / "rankinv.jsonl").write_text(json.dumps({"step": 1, "logs": _values("steady", 1)}) + "\n")
    with Store.open(tmp_path / "s.sqlite") as store:
        pipeline = Pipeline(root, cfg, store, triage=TriageStage(store, cfg, tmp_path / "state", None),
                            health=Health(store, 60.0), dirs=NoWatch(), actions=None)  # fmt: skip
        judge = pipeline.brain.judge

        def failing(record: Any) -> Any:
            if record.name == "grpo-2":
                raise ValueError("a broken judgement")
            return judge(record)

        monkeypatch.setattr(pipeline.brain, "judge", failing)
        pipeline.handle(set(), rescan=True)
        bad = store.run("grpo-2")
        assert bad is not None and bad.status == "error" and "a broken judgement" in (bad.error or "")
        assert store.latest_verdict("grpo-2") is None
        for name in ("grpo-0", "grpo-1", "grpo-3"):
            v = store.latest_verdict(name)
            assert v is not None and v.step == 1
