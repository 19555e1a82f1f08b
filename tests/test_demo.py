"""`rankinv demo` headless, end to end: bundled real TRL runs replayed into a fresh root, a real dry-run daemon,
real triage subprocesses; the expected stage-1 flag, stage-2 KILL (dry-run) and alert land in the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rankinv.store import ReadStore, store_path_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "rankinv", "demo", "--headless", "--seconds-per-run", "8", "--timeout", "150",
         "--keep", str(workdir)],
        capture_output=True, text=True, timeout=200, env=env, stdin=subprocess.DEVNULL, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir, proc.stdout


def test_demo_prints_the_story(demo: tuple[Path, str]) -> None:
    _, out = demo
    assert "triaged" in out
    assert "stage-1 entropy" in out
    assert "DRY-RUN would KILL pid" in out
    assert "rankinv status:" in out


def test_demo_leaves_the_expected_verdicts_in_the_store(demo: tuple[Path, str]) -> None:
    workdir, _ = demo
    with ReadStore.open(store_path_for(workdir / "runs", workdir / "state")) as store:
        snap = store.snapshot()
        by_subject = {c.subject.rsplit("/", 1)[-1]: c for c in snap.candidates}
        assert by_subject["grpo-from-late"].verdict == "KILL"
        assert by_subject["grpo-from-early"].verdict == "CONTINUE"
        assert by_subject["checkpoint-300"].flagged and not by_subject["checkpoint-30"].flagged
        # ranked by predicted final pass@10: the collapsed side ranks below the healthy side
        order = [c.subject.rsplit("/", 1)[-1] for c in snap.candidates]
        assert order.index("grpo-from-early") < order.index("grpo-from-late")
        assert order.index("checkpoint-30") < order.index("checkpoint-300")
        (action,) = [a for a in store.actions("grpo-from-late") if a.kind == "kill"]
        assert action.dry_run and "DRY-RUN" in action.audit
        # the audit line names the run and its step once, then the verdict's own words
        assert action.audit.startswith("run grpo-from-late step ") and action.audit.count("grpo-from-late") == 1
        assert ": KILL (" in action.audit.split("→")[0]
        feed = [e.message for e in store.events(limit=500) if e.run == "grpo-from-late" and "DRY-RUN" in e.message]
        assert feed and all(t.startswith("dry-run: run grpo-from-late step ") for t in feed), feed
        assert any(e.level == "alert" and e.run == "grpo-from-late" for e in store.events(limit=500))


def test_demo_stopped_its_daemon_and_stand_in_jobs(demo: tuple[Path, str]) -> None:
    workdir, _ = demo
    from rankinv.daemon import control

    assert not control.status(workdir / "runs", workdir / "state").running
    with ReadStore.open(store_path_for(workdir / "runs", workdir / "state")) as store:
        (action,) = [a for a in store.actions("grpo-from-late") if a.kind == "kill"]
    kind, pid, _ = (action.target or "").split(":")
    assert kind == "process"  # the replay's stand-in job, resolved by pid and start time
    assert not Path(f"/proc/{pid}").exists()  # the demo ended it


def test_a_kill_whose_reasons_change_is_alerted_once(demo: tuple[Path, str]) -> None:
    """The collapsing run's KILL gets new verdict rows as its reasons and values change (the store's verdicts say
    so); it is alerted once per streak of KILL verdicts, and the rest are info events, never alerts."""
    workdir, out = demo
    with ReadStore.open(store_path_for(workdir / "runs", workdir / "state")) as store:
        rows = [v for v in reversed(store.verdicts("grpo-from-late", limit=1000)) if v.subject == "grpo-from-late"]
        events = [e for e in store.events(limit=500) if e.run == "grpo-from-late" and e.kind == "verdict"]
    decisions = [v.decision for v in rows]
    streaks = sum(d == "KILL" and (i == 0 or decisions[i - 1] != "KILL") for i, d in enumerate(decisions))
    assert streaks >= 1 and decisions.count("KILL") > streaks, decisions  # the reasons did change mid-KILL
    assert sum(e.level == "alert" for e in events) == streaks
    printed = [line for line in out.splitlines() if " alert " in line and "grpo-from-late: KILL" in line]
    assert len(printed) == streaks, printed
