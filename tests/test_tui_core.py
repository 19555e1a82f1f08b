"""TUI tier 1: the pure parts (columns, formatting, plots, alerts, store polling) without Textual running."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from rankinv.tui import alerts, columns, plot
from rankinv.tui import format as fmt
from rankinv.tui.poller import StorePoller, read_detail
from rankinv.tui.widgets.reasons_list import reason_line

from rankinv.messages import Reason
from rankinv.store import ActionRecord, Candidate, ReadStore, Store, StoreError
from tests.support.tui_seed import TRIAGE_CKPT, make_store

BASE = Candidate(
    subject="r", run="r", checkpoint=None, kind="grpo", step=10, status="running", job_id=None, job_state=None,
    triage_state=None, pre_rl_entropy=None, pass1=None, headroom=None, expected_variance=None,
    degenerate_fraction=None, flagged=False, live_entropy=None, entropy_drop=None, zero_std_fraction=None,
    predicted=None, predicted_lo=None, predicted_hi=None, basis=None, verdict=None, verdict_id=None,
    verdict_summary=None, confidence=None, acknowledged=False, pinned=False, opt_out=False,
)


def cand(**kw: object) -> Candidate:
    return dataclasses.replace(BASE, **kw)  # type: ignore[arg-type]


def test_columns_collapse_by_priority_and_keep_the_essentials() -> None:
    wide = columns.fitting(200)
    assert [c.key for c in wide] == [c.key for c in columns.COLUMNS]
    narrow = [c.key for c in columns.fitting(78)]
    assert {"run", "predicted", "verdict", "headroom", "entropy_drop"} <= set(narrow)
    assert "basis" not in narrow and "kind" not in narrow
    assert sum(c.cells + columns.PADDING for c in columns.fitting(78)) <= 78
    assert all(c.cells > len(c.label) for c in columns.COLUMNS)  # room for the sort arrow on every header
    assert [c.key for c in columns.fitting(10)] == ["run", "predicted", "verdict"]  # never fewer


def test_sorting_puts_missing_values_last_either_way() -> None:
    rows = [cand(subject="a", headroom=2.0), cand(subject="b"), cand(subject="c", headroom=0.5)]
    assert [c.subject for c in columns.ordered(rows, "headroom", False)] == ["c", "a", "b"]
    assert [c.subject for c in columns.ordered(rows, "headroom", True)] == ["a", "c", "b"]
    assert [c.subject for c in columns.ordered(rows, None, False)] == ["a", "b", "c"]  # the store's ranking


def test_filter_matches_run_verdict_and_state() -> None:
    rows = [cand(subject="grpo-x", run="grpo-x", verdict="KILL"), cand(subject="sft-y", run="sft-y", flagged=True)]
    assert [c.subject for c in columns.matching(rows, "kill")] == ["grpo-x"]
    assert [c.subject for c in columns.matching(rows, "FLAG")] == ["sft-y"]
    assert len(columns.matching(rows, "  ")) == 2


def test_sort_key_cycles_through_visible_columns_back_to_ranking() -> None:
    visible = columns.fitting(60)
    seen, key = [], None
    for _ in range(len(visible) + 1):
        key = columns.next_sort(key, visible)
        seen.append(key)
    assert seen[-1] is None and seen[:-1] == [c.key for c in visible if c.sort_value is not None]
    assert columns.next_sort(None, visible, -1) == seen[-2]  # S goes the other way round


def test_formatting_reads_without_colour() -> None:
    assert fmt.interval(0.62, 0.57, 0.67) == "0.62±0.05"
    assert fmt.interval(0.95, 0.88, 0.95) == "0.95 [.88,.95]"  # asymmetric: the bounds, never a made-up ±
    assert fmt.interval(1.0, 0.77, 1.0) == "1.00 [.77,1.00]"
    assert fmt.interval(0.62, None, None) == "0.62"
    assert fmt.interval(float("nan"), 0, 1) == fmt.DASH
    assert fmt.verdict_text("KILL").plain == "✖ KILL"
    assert fmt.verdict_text("continue", pinned=True, acknowledged=True).plain == "✔ CONTINUE pin ack"
    assert fmt.verdict_text("WATCH", flagged=True).plain == "● WATCH ⚑"
    assert fmt.verdict_name(cand(flagged=True)) == "FLAG"
    assert fmt.ago(1000.0, 1000.0 + 3 * 3600 + 5) == "3h"
    assert fmt.ago(1000.0, 999.0) == "0s"
    assert fmt.job(cand(job_id="77", job_state="PENDING")) == "77 PD"
    running = cand(job_id="4102", job_state="RUNNING", job_elapsed=3723.0, job_node="gpu07")
    assert fmt.job(running) == "4102 R 1:02:03 gpu07"
    assert fmt.job(cand(job_id="4102", job_state="CANCELLED", job_elapsed=90061.0, job_node="gpu07")) == (
        "4102 CA 1-01:01:01 gpu07")
    assert fmt.job(cand(job_id="4102", job_state="slurm?")) == "4102 slurm?"
    assert fmt.job(cand(status="active")) == "no job known"  # not the run's record status, read as the job's
    assert fmt.job(cand(status="vanished")) == "vanished"
    assert fmt.candidate_label(cand(run="sft", checkpoint="/r/sft/checkpoint-40")) == "sft@ckpt-40"


def test_job_cell_after_a_kill() -> None:
    """What the kill did follows Slurm's state: the signal it sent during the grace period, then the outcome."""
    def kill(state: str, detail: str = "") -> ActionRecord:
        return ActionRecord(1, "r", 1, "kill", "slurm:4102", False, state, 0, None, "", {"detail": detail}, 0.0, 0.0)

    running = cand(job_id="4102", job_state="RUNNING", job_elapsed=65.0, job_node="n1")
    assert fmt.job(running, kill("signalled", "USR1 sent")) == "4102 R 1:05 n1 USR1 sent"
    done = cand(job_id="4102", job_state="CANCELLED", job_elapsed=190.0, job_node="n1")
    assert fmt.job(done, kill("done", "scancel sent")) == "4102 CA 3:10 n1 killed"
    assert fmt.job(cand(status="active"), kill("dry_run")) == "4102 dry-kill"  # no job id known: the target's


def test_curve_draws_line_window_and_threshold() -> None:
    text = plot.curve([0, 50, 100, 150], [1.0, 0.8, 0.6, 0.4], 40, 6, window=(10, 150), hline=0.5,
                      y_range=(0.0, 1.0)).plain
    grid = [line[8:] for line in text.splitlines()[:6]]
    assert all(len(line) == 40 for line in grid)
    assert sum(ch != " " and "\u2800" < ch <= "\u28ff" for line in grid for ch in line) >= 40  # a joined line
    assert grid[3].count("┄") > 20  # the threshold 0.5 on a 0–1 scale: row 3 of 0..5 (rounded from 2.5 dots/4)
    assert grid[0][0] != " " and grid[5][39] == "│"  # starts top-left (1.0); 0.4 never reaches the floor row
    assert all(line[39] in "│" or line[39] > "\u2800" for line in grid)  # the decision step is the right edge
    assert text.splitlines()[0].startswith("     1 ┤") and text.splitlines()[5].startswith("     0 ┤")
    assert text.splitlines()[-1].split() == ["step", "0", "10", "150"]
    labelled = plot.curve([0, 20, 60], [0.4, 0.6, 0.7], 30, 4, x_labels=("k=1", "k=64")).plain.splitlines()[-1]
    assert labelled.split() == ["k=1", "k=64"]
    assert plot.curve([], [], 40, 6).plain == "no data yet"
    assert plot.curve([1, 2], [float("nan"), float("nan")], 40, 6).plain == "no data yet"


def test_histogram_counts_every_value_once() -> None:
    text = plot.histogram([0.0, 0.05, 0.5, 1.0, 0.99], bins=10).plain
    counts = [int(line.rsplit(" ", 1)[1]) for line in text.splitlines()]
    assert counts == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert plot.sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == plot.BLOCKS


def test_reason_line_leads_with_the_grade() -> None:
    kill = Reason("entropy drop", 0.64, 0.5, ">", 10, 150, "kill")
    assert reason_line(kill) == "[kill] entropy drop 0.64 > 0.50 (steps 10→150)"
    manual = Reason("user request", float("nan"), float("nan"), "", None, None, "kill", "kill requested from tui")
    assert reason_line(manual) == "[kill] user request: kill requested from tui"


def test_alerts_fire_once_for_new_kill_or_flag_only() -> None:
    first = (cand(subject="a", verdict="KILL", verdict_id=1),)
    seen, fresh = alerts.new_alerts(None, first)
    assert fresh == [] and seen == {"verdict:1"}  # what was there at start-up does not alert again
    later = (
        *first,
        cand(subject="b", run="b", verdict="KILL", verdict_id=2),
        cand(subject="c", verdict="WATCH", verdict_id=3),
        cand(subject="d", verdict="KILL", verdict_id=4, acknowledged=True),
        cand(subject="e", run="e", checkpoint="/r/e/checkpoint-9", verdict="WATCH", verdict_id=5, flagged=True),
        cand(subject="f", verdict="WATCH", verdict_id=6, flagged=True),  # a GRPO run of a flagged parent
    )
    seen, fresh = alerts.new_alerts(seen, later)
    assert [(c.subject, decision) for c, decision in fresh] == [("b", "KILL"), ("e", "FLAG")]
    assert alerts.new_alerts(seen, later)[1] == []
    assert alerts.alert_text(fresh[1][0], "FLAG")[0] == "rankinv ⚑ FLAG e@ckpt-9"
    osc9 = alerts.AlertChannel("osc9").encode(*alerts.alert_text(fresh[0][0], "KILL"))
    assert osc9.startswith(b"\x1b]9;rankinv \xe2\x9c\x96 KILL b") and osc9.endswith(b"\x07")
    assert alerts.AlertChannel("osc9", tmux=True, passthrough=False).encode("t", "b") == b"\x07"


def test_poller_reads_only_when_the_store_changes(tmp_path: Path) -> None:
    clock = [0.0]
    poller = StorePoller(tmp_path / "s.sqlite", max_age=5.0, clock=lambda: clock[0])
    with pytest.raises(StoreError, match="rankinv daemon"):
        poller.poll()
    make_store(tmp_path / "s.sqlite")
    first = poller.poll()
    assert first is not None and len(first.candidates) == 4
    assert poller.poll() is None
    with Store.open(tmp_path / "s.sqlite") as writer:
        writer.upsert_run("new", "/runs/new", kind="grpo")
    assert poller.poll() is not None
    assert poller.poll() is None
    clock[0] = 6.0  # stale: re-read anyway so a dead daemon's heartbeat is noticed
    assert poller.poll() is not None
    poller.close()


def test_detail_reads_curves_triage_verdicts_and_audit(tmp_path: Path) -> None:
    path = make_store(tmp_path / "s.sqlite")
    with ReadStore.open(path) as store:
        bad = next(c for c in store.snapshot().candidates if c.subject == "grpo-bad")
        ckpt = next(c for c in store.snapshot().candidates if c.checkpoint == TRIAGE_CKPT)
    detail = read_detail(path, bad)
    assert set(detail.series) == {"entropy", "reward_mean", "frac_reward_zero_std"}
    assert detail.triage is not None and detail.triage.pass1 == 0.41  # the parent checkpoint's summary
    assert detail.triage_problem is None
    assert [v.decision for v in detail.verdicts] == ["KILL"] and detail.actions[0].kind == "kill"
    detail = read_detail(path, ckpt)
    assert detail.series == {} and detail.verdicts[0].decision == "FLAG"


def test_a_share_that_rounds_to_zero_is_never_minus_zero() -> None:
    """An entropy that rose by a hair is a drop of ``0%``, not ``-0%``; the TUI and ``rankinv status`` print the same
    text (exact arithmetic: -0.001 of a share is -0.1%, which rounds to 0)."""
    from rankinv.daemon import cli_status

    for value, text in ((-0.001, "0%"), (0.004, "0%"), (-0.006, "-1%"), (0.53, "53%"), (1.0, "100%")):
        assert fmt.pct(value) == text and cli_status._pct(value) == text
    assert fmt.pct(None) == fmt.DASH and cli_status._pct(float("nan")) == "-"
