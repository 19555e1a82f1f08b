"""What the TUI says about its surroundings and shares with `rankinv status`: another daemon over overlapping
runs (a real detached daemon), the log `l` pages (never outside the root), untrusted names as plain data, and
one column vocabulary with numbers and booleans typed in --json."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rankinv.daemon import cli_status, control
from rankinv.tui import context, feed, logs
from rankinv.tui import format as fmt

from rankinv.store import EventRecord, ReadStore
from rankinv.vocabulary import COLUMNS, label
from tests.support.tui_seed import make_store
from tests.test_tui_core import BASE


def test_a_daemon_on_the_parent_root_is_warned_about(tmp_path: Path) -> None:
    parent, state = tmp_path / "runs", tmp_path / "state"
    child = parent / "team-a"
    child.mkdir(parents=True)
    control.start_detached(parent, state_base=state)
    try:
        deadline = time.monotonic() + 60
        while not context.overlapping_daemons(child, state):
            assert time.monotonic() < deadline, "the running daemon was never seen"
            time.sleep(0.2)
        (warning,) = context.overlapping_daemons(child, state)
        pid = control.status(parent, state_base=state).pid
        assert f"pid {pid}" in warning and str(parent.resolve()) in warning and "a parent" in warning
        assert context.overlapping_daemons(parent, state) == []  # its own root is no overlap
        (below,) = context.overlapping_daemons(tmp_path, state)
        assert "a child" in below
        shown = subprocess.run([sys.executable, "-m", "rankinv", "daemon", "status", str(parent), "--json",
                                "--state-dir", str(state)], capture_output=True, text=True, timeout=60, check=True)
        health = json.loads(shown.stdout)["health"]
        assert health["pid"] == pid and health["armed"] is False and isinstance(health["heartbeat"], float)
    finally:
        control.stop(parent, state_base=state)
    assert context.overlapping_daemons(child, state) == []  # a stopped daemon holds no lock


def test_child_configs_are_compared_by_content_and_never_searched_deep(tmp_path: Path) -> None:
    used = tmp_path / "rankinv.toml"
    used.write_text("x = 1\n")
    for rel, text in (("a/rankinv.toml", "x = 2\n"), ("b/rankinv.toml", "x = 1\n"),
                      ("a/checkpoint-9/rankinv.toml", "x = 3\n"), ("1/2/3/4/rankinv.toml", "x = 4\n")):  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    warnings = context.child_configs(tmp_path, used)
    assert len(warnings) == 1 and warnings[0].startswith("a/rankinv.toml differs")
    assert len(context.child_configs(tmp_path, None)) == 2  # no config in use: a/ and b/ (not too deep, not a ckpt)


def test_the_log_is_found_inside_the_run_and_never_outside_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "secret"
    run = root / "grpo"
    run.mkdir(parents=True)
    outside.mkdir()
    (outside / "passwd.log").write_text("not yours")
    (run / "evil.log").symlink_to(outside / "passwd.log")
    assert logs.find_log(run, root) is None  # the only *.log points outside: skipped
    (run / "rankinv.jsonl").write_text("{}\n")
    assert logs.find_log(run, root) == run / "rankinv.jsonl"
    (run / "a.out").write_text("1")
    (run / "b.out").write_text("2")
    os.utime(run / "a.out", (1, 1))
    assert logs.find_log(run, root) == run / "b.out"  # the newest of the most useful kind
    assert logs.find_log(outside, root) is None  # a run path outside the root (a tampered store) is refused


def test_untrusted_names_print_as_data() -> None:
    assert fmt.candidate_label(dataclasses.replace(BASE, run="run\x1b]52;c;ZXZpbA==\x07-x")) == (
        "run\\x1b]52;c;ZXZpbA==\\x07-x"  # the shared boundary helper's visible escapes
    )
    event = EventRecord(1, 0.0, "info", "verdict", "r\x1b[2J", "KILL on r\x1b[2J: [bold]x[/bold]")
    line = feed.render(feed.collapse([event]), 0.0).plain
    assert "\x1b" not in line and "[bold]x[/bold]" in line  # no escape reaches the terminal; markup stays text


def test_status_and_json_share_the_vocabulary_and_type_their_values(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with ReadStore.open(make_store(tmp_path / "s.sqlite")) as store:
        snap = store.snapshot()
    data = json.loads(json.dumps(cli_status.to_json(snap, {}, running=False, scanned=False)))
    assert data["health"]["armed"] is False and data["health"]["errors"] == 0
    assert isinstance(data["health"]["heartbeat"], float) and data["health"]["watch_mode"] == "inotify"
    bad = next(c for c in data["candidates"] if c["run"] == "grpo-bad")
    assert bad["entropy_drop"] == 0.64 and bad["flagged"] is True and bad["confidence"] == 0.9
    assert {c["label"] for c in data["candidates"]} >= {"grpo-bad", "sft-a@ckpt-200"}  # the TUI's row names
    keys = set(data["candidates"][0])
    assert {t.key for t in COLUMNS if t.key in keys} >= {"predicted", "pre_rl_entropy", "headroom", "entropy_drop"}
    cli_status.print_table(snap, {}, Path("/runs"), running=False, scanned=False)
    header = capsys.readouterr().out.splitlines()[2]
    names = [cell.strip() for cell in header.split("┃")[1:-1]]
    assert names == ["#", *(label(k) for k in cli_status.COLUMNS[1:])]
    assert "H0" in names and "pre-RL H" not in names
    assert cli_status.typed("27088") == 27088 and cli_status.typed("0.5") == 0.5 and cli_status.typed("x1") == "x1"


@pytest.mark.parametrize(("given", "recorded"), [("4242", "4242"), ("77_3", "77_3"), ("12; rm -rf ~", None)])
def test_the_manifest_job_id_reaches_the_job_column(tmp_path: Path, given: str, recorded: str | None) -> None:
    root, state = tmp_path / "runs", tmp_path / "state"
    run = root / "grpo-x"
    run.mkdir(parents=True)
    (run / "rankinv-run.json").write_text(json.dumps({"kind": "grpo", "SLURM_JOB_ID": given}))
    (run / "rankinv.jsonl").write_text(json.dumps({"step": 1, "entropy": 1.0}) + "\n")
    out = subprocess.run([sys.executable, "-m", "rankinv", "status", str(root), "--json", "--state-dir", str(state)],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    (row,) = json.loads(out.stdout)["candidates"]
    assert row["job_id"] == recorded
