"""The typed messages through a real store: written by the daemon's code, read by the readers' code, field by field.

Expected values come from the sources themselves (the report file's JSON, the verdict the daemon decided, the
command as sent), never from the store's decoders; malformed rows are planted with plain SQLite.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rankinv.daemon.pipeline.brain import Brain
from rankinv.daemon.pipeline.commands import Commands, Hooks
from rankinv.daemon.pipeline.triage import REPORT_NAME, TriageStage
from rankinv.tui.poller import read_detail
from rankinv.tui.widgets.reasons_list import reason_line

from rankinv.config import Config
from rankinv.messages import (
    Command,
    CommandKind,
    MessageError,
    Reason,
    decode_command,
    decode_triage_summary,
    encode_triage_summary,
)
from rankinv.store import CommandChannel, ReadStore, Store
from rankinv.triage.digest import summarize
from tests.support.reports import flagged, make_report

CKPT_PASSES = [0, 0, 1, 3, 8, 12, 16, 16, 5, 2]


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN (a reason without a threshold carries NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return bool(a == b)


def assert_fields_equal(got: Any, want: Any) -> None:
    for f in dataclasses.fields(want):
        assert same(getattr(got, f.name), getattr(want, f.name)), f"{f.name}: {getattr(got, f.name)!r}"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "store.sqlite")
    yield s
    s.close()


def _grpo(store: Store) -> None:
    store.upsert_run("grpo", "/runs/grpo", kind="grpo", last_step=200)
    points = [(step, "entropy", 0.5 * (1 - 0.8 * min(step, 150) / 150), None) for step in range(0, 201, 5)]
    points += [(step, "frac_reward_zero_std", min(0.97, 0.2 + step / 150), None) for step in range(0, 201, 5)]
    store.add_metrics("grpo", points)


def test_verdict_reasons_round_trip_from_the_brain_to_the_tui(store: Store) -> None:
    _grpo(store)
    record = store.run("grpo")
    assert record is not None
    with store.transaction():
        outcome = Brain(store, Config()).evaluate_run(record)
    want = outcome.verdict.reasons
    assert want and any(r.grade == "kill" for r in want), "the planted collapse gives kill-grade reasons"
    with ReadStore.open(store.path) as reader:
        got = reader.latest_verdict("grpo")
        candidate = next(c for c in reader.snapshot().candidates if c.run == "grpo")
    assert got is not None and len(got.reasons) == len(want)
    for g, w in zip(got.reasons, want, strict=True):
        assert_fields_equal(g, w)
    detail = read_detail(store.path, candidate)
    assert [reason_line(r) for r in detail.verdicts[0].reasons] == [f"[{r.grade}] {r.render()}" for r in want]
    stored = json.loads(_raw(store.path, "SELECT reasons FROM verdicts WHERE id = ?", outcome.verdict_id))
    assert [item["text"] for item in stored] == [r.render() for r in want]  # for scripts reading the JSON


def test_triage_summary_round_trips_from_the_triage_stage_to_the_detail_screen(store: Store, tmp_path: Path) -> None:
    ckpt = tmp_path / "runs" / "sft" / "checkpoint-10"
    ckpt.mkdir(parents=True)
    make_report(ckpt, CKPT_PASSES, flag=flagged()).write(ckpt / REPORT_NAME)
    store.upsert_run("sft", str(ckpt.parent), kind="sft")
    store.upsert_checkpoint("sft", str(ckpt), 10, True)
    TriageStage(store, Config(), tmp_path / "state", None).report_appeared("sft", str(ckpt))

    raw = json.loads((ckpt / REPORT_NAME).read_text())  # the oracle: the report file itself
    m = raw["metrics"]
    with ReadStore.open(store.path) as reader:
        got = reader.triage_summary(str(ckpt))
        candidate = next(c for c in reader.snapshot().candidates if c.checkpoint == str(ckpt))
    assert got is not None
    assert (got.flagged, got.entropy_basis, got.group_size, got.p_star) == (True, "entropy_token_mean", 8, 0.083)
    assert got.flag_messages == tuple(r["message"] for r in raw["flag"]["reasons"])
    assert got.pass_rates == tuple(p["pass_rate"] for p in raw["prompts"])
    assert got.pass1 == m["pass_at_1"]["estimate"] and got.headroom == m["headroom"]["estimate"]
    assert got.entropy == got.entropy_token_mean == m["entropy_token_mean"]["estimate"]  # the flag's basis
    assert got.expected_variance == m["expected_advantage_variance"]["estimate"]
    assert got.degenerate_fraction == m["degenerate_fraction"]["estimate"]
    assert got.never_solved_fraction == m["never_solved_fraction"]["estimate"]
    assert got.entropy_probe is None and m["entropy_probe"] is None
    assert got.pass_at_k == tuple(sorted((int(k), v["estimate"]) for k, v in m["pass_at_k"].items()))
    assert (candidate.flagged, candidate.pass1, candidate.pre_rl_entropy) == (True, got.pass1, got.entropy)
    detail = read_detail(store.path, candidate)
    assert detail.triage == got and detail.triage_problem is None


ALL_COMMANDS = [
    Command(CommandKind.ACK, "grpo", verdict=7), Command(CommandKind.ACK, "sft", "/runs/sft/checkpoint-10"),
    Command(CommandKind.PIN, "grpo"), Command(CommandKind.UNPIN, "grpo"), Command(CommandKind.ARM),
    Command(CommandKind.DISARM), Command(CommandKind.KILL, "grpo"),
    Command(CommandKind.RETRIAGE, "sft", "/runs/sft/checkpoint-10"), Command(CommandKind.RETRIAGE, "sft"),
]  # fmt: skip


def test_commands_round_trip_from_the_channel_to_the_daemon(store: Store) -> None:
    with CommandChannel.open(store.path) as channel:
        ids = [channel.send(c, source="tui") for c in ALL_COMMANDS]
    pending = store.pending_commands()
    assert [p.id for p in pending] == ids
    for record, sent in zip(pending, ALL_COMMANDS, strict=True):
        assert record.problem is None and record.source == "tui"
        assert record.command is not None
        assert_fields_equal(record.command, sent)


def test_commands_refuse_invalid_combinations_when_made() -> None:
    with pytest.raises(MessageError, match="needs a run"):
        Command(CommandKind.PIN)
    with pytest.raises(MessageError, match="takes no run"):
        Command(CommandKind.ARM, "grpo")
    with pytest.raises(MessageError, match="takes no checkpoint"):
        Command(CommandKind.KILL, "grpo", "/ckpt")
    with pytest.raises(MessageError, match="takes no verdict"):
        Command(CommandKind.PIN, "grpo", verdict=3)


def _raw(path: Path, sql: str, *args: Any) -> Any:
    conn = sqlite3.connect(path)
    try:
        with conn:
            row = conn.execute(sql, args).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


@pytest.mark.parametrize(("kind", "run", "args", "why"), [
    ("bogus", "grpo", None, "unknown command 'bogus'"),
    ("pin", None, None, "needs a run"),
    ("ack", "grpo", "{not json", "not valid JSON"),
    ("ack", "grpo", '["a list"]', "expected an object"),
    ("ack", "grpo", '{"verdict": "seven"}', "'verdict' must be an integer"),
    ("retriage", "grpo", '{"checkpoint": 3}', "'checkpoint' must be a string"),
])  # fmt: skip
def test_a_malformed_command_is_an_error_result_never_a_crash(
    store: Store, kind: str, run: str | None, args: str | None, why: str
) -> None:
    store.upsert_run("grpo", "/runs/grpo", kind="grpo")
    _raw(store.path, "INSERT INTO commands(kind, run, args, created_at) VALUES(?, ?, ?, 0)", kind, run, args)
    (record,) = store.pending_commands()
    assert record.command is None and record.problem is not None and why in record.problem
    hooks = Hooks(retriage=lambda *_: None, kill=lambda *_: "ok", armed_changed=lambda _: None)
    assert Commands(store, store.path.parent, str(store.path.parent), hooks).consume() == 1
    assert _raw(store.path, "SELECT result FROM commands") == f"error: {record.problem}"


def test_unknown_command_keys_from_older_writers_are_ignored() -> None:
    old = '{"checkpoint": "/c", "subject": "sft@/c", "verdict": 4, "value": "continue"}'
    assert decode_command("ack", "sft", old) == Command(CommandKind.ACK, "sft", "/c", 4)


@pytest.mark.parametrize("stored", ["{not json", '{"metric": "x"}', '[{"metric": 1}]', '[{"metric": "entropy drop"}]'])
def test_malformed_reasons_read_as_one_reason_saying_why(store: Store, stored: str) -> None:
    store.upsert_run("grpo", "/runs/grpo", kind="grpo")
    store.put_verdict("grpo", None, step=1, decision="WATCH", confidence=0.5, stage="2", summary="s", reasons=[])
    _raw(store.path, "UPDATE verdicts SET reasons = ?", stored)
    with ReadStore.open(store.path) as reader:
        (verdict,) = reader.verdicts("grpo")
    (reason,) = verdict.reasons
    assert (reason.metric, reason.grade) == ("stored reasons unreadable", "info")
    assert reason.note.startswith("verdict reason")
    assert "stored reasons unreadable" in reason_line(reason)


def test_malformed_triage_summary_is_named_in_the_detail_not_a_crash(store: Store) -> None:
    ckpt = "/runs/sft/checkpoint-10"
    store.upsert_run("sft", "/runs/sft", kind="sft")
    store.upsert_checkpoint("sft", ckpt, 10, True)
    report = make_report(ckpt, CKPT_PASSES)
    store.put_triage_report(ckpt, report, summarize(report))
    _raw(store.path, "UPDATE triage_reports SET summary = ?", '{"flagged": "yes"}')
    with ReadStore.open(store.path) as reader:
        with pytest.raises(MessageError, match="triage summary"):
            reader.triage_summary(ckpt)
        candidate = next(c for c in reader.snapshot().candidates if c.checkpoint == ckpt)
    detail = read_detail(store.path, candidate)
    assert detail.triage is None and detail.triage_problem is not None and "triage summary" in detail.triage_problem


def test_summary_decoder_names_each_wrong_field() -> None:
    with pytest.raises(MessageError, match="missing field 'flagged'"):
        decode_triage_summary("{}")
    with pytest.raises(MessageError, match="nothing stored"):
        decode_triage_summary(None)
    valid = json.loads(encode_triage_summary(summarize(make_report("/c", CKPT_PASSES))))
    for key, bad, why in [("pass_at_k", 3, "'pass_at_k' must be a list"), ("pass1", "0.4", "'pass1' must be a number"),
                          ("flag_messages", [1], "'flag_messages' must be a list of strings")]:
        with pytest.raises(MessageError, match=why):
            decode_triage_summary(json.dumps({**valid, key: bad}))


def test_reason_encoding_keeps_non_finite_numbers_as_null(store: Store) -> None:
    store.upsert_run("r", "/r", kind="grpo")
    manual = Reason("user request", math.nan, math.inf, "", None, None, "kill", "kill requested from tui")
    store.put_verdict("r", None, step=None, decision="KILL", confidence=1.0, stage="manual", summary="s",
                      reasons=[manual])
    (item,) = json.loads(_raw(store.path, "SELECT reasons FROM verdicts"))
    assert item["value"] is None and item["threshold"] is None
    with ReadStore.open(store.path) as reader:
        (got,) = reader.verdicts("r")[0].reasons
    assert math.isnan(got.value) and got.render() == "user request: kill requested from tui"


@pytest.mark.parametrize(("value", "threshold", "op", "want"), [
    (1.0, 0.5, ">", "entropy drop 1.00 > 0.50"),  # a share at its end prints like its threshold, not "1"
    (0.999, 0.5, ">", "entropy drop 1.00 > 0.50"),
    (1.0, 0.9, ">=", "entropy drop 1.00 >= 0.90"),
    (3.0, 6.0, "<", "entropy drop 3 < 6"),  # whole numbers on both sides (steps) stay plain
    (4.1625, 4.0, ">=", "entropy drop 4.16 >= 4"),  # against a whole threshold (a step, a ratio) as before
    (5.16, 15.0, "<=", "entropy drop 5.16 <= 15"),
    (250.0, 0.5, ">", "entropy drop 250 > 0.50"),
    (math.nan, 0.5, ">", "entropy drop n/a > 0.50"),
])  # fmt: skip
def test_a_reason_prints_both_sides_alike(value: float, threshold: float, op: str, want: str) -> None:
    reason = Reason("entropy drop", value, threshold, op, None, None, "kill")
    assert reason.render() == want
