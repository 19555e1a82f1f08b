"""The readers' fast paths give exactly the points of their general paths.

Every fast path (msgspec JSON straight into floats, points of whole blocks made as columns, verl console lines
rewritten as JSON, a regular expression for flat stdout dicts, C-speed records and points, skimming tqdm redraws)
has a general path beside it that reads the same input
key by key (``json``, ``ast.literal_eval``, every redraw read in turn). :func:`general_paths` switches every fast
path off; the tests read the real-log corpus (``tests/data/reallogs``, written by real TRL runs) and hand-made
lines the fast paths must refuse, both ways, and compare steps, names, values (bit for bit) and offsets.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankinv.ingest import (
    START,
    Offset,
    columns,
    flatdict,
    jsonl,
    lines,
    open_source,
    pydict,
    stdout,
    trainer_state,
    values,
    verl_console,
)
from rankinv.ingest.batch import Points
from rankinv.metrics import MetricPoint, canonical_name

CORPUS = Path(__file__).parent / "data" / "reallogs"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


class _Refuse:
    """A msgspec decoder stand-in that refuses everything, so the general JSON path runs."""

    def decode(self, _data: object) -> object:
        raise msgspec.DecodeError("refused: general path under test")

    def decode_lines(self, _data: object) -> object:
        raise msgspec.DecodeError("refused: general path under test")


def _reference_points(run: str, step: int, record: values.Record, _shape: object = None) -> list[MetricPoint]:
    """The points of a record, one by one (what the C-speed ``points`` must equal)."""
    keep_epoch = record.role == "train"
    return [MetricPoint(run, step, canonical_name(k), v, record.time) for k, v in record.values.items()
            if keep_epoch or k != "epoch"]  # fmt: skip


@pytest.fixture
def general_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Switch every fast path off for the duration of a test."""
    monkeypatch.setattr(values, "_flat_record", lambda *_args: values._SLOW)
    monkeypatch.setattr(values, "points", _reference_points)
    monkeypatch.setattr(lines, "points", _reference_points)
    monkeypatch.setattr(stdout, "points", _reference_points)
    monkeypatch.setattr(jsonl, "_PAYLOADS", _Refuse())
    monkeypatch.setattr(jsonl, "loads", json.loads)
    monkeypatch.setattr(jsonl, "parse_block", lines.each_line(jsonl.parse_line_noted))
    monkeypatch.setattr(flatdict, "parse", lambda _text: None)
    monkeypatch.setattr(stdout, "MARKS", None)
    monkeypatch.setattr(lines, "CONSOLE_MARKS", None)
    monkeypatch.setattr(trainer_state, "_STATE", _Refuse())
    monkeypatch.setattr(verl_console, "_block", lambda _data: None)
    monkeypatch.setattr(verl_console, "_pairs", lambda _rest: None)
    monkeypatch.setattr(stdout._Collect, "whole_block", lambda _self, _data: False)
    yield


def _key(p: MetricPoint) -> tuple[object, ...]:
    """A point as comparable data, floats bit for bit (NaN equals NaN, -0.0 differs from 0.0)."""
    bits = [None if x is None else struct.pack("<d", x) for x in (p.value, p.time)]
    return (p.run, p.step, p.name, *bits)


def _read(path: Path, fmt: str, logging_steps: int = 1) -> tuple[list[tuple[object, ...]], Offset]:
    """The points (as :func:`_key`), then the read's notes of records skipped for their step, and the offset."""
    found, offset = open_source(path, "r", fmt, logging_steps=logging_steps).read_new(START)
    return [_key(p) for p in found] + [("note", n.message()) for n in found.notes.values()], offset


def _read_both(path: Path, fmt: str, request: pytest.FixtureRequest, logging_steps: int = 1) -> tuple:
    fast = _read(path, fmt, logging_steps)
    request.getfixturevalue("general_paths")
    return fast, _read(path, fmt, logging_steps)


def _corpus_logs() -> list[tuple[str, str, str]]:
    out = []
    for case in CASES:
        out += [(case, "stdout.out", "pydict"), (case, "stdout.out", "console"), (case, "rankinv.jsonl", "jsonl"),
                (case, "trainer_state.json", "trainer_state")]  # fmt: skip
    return out


@pytest.mark.parametrize(("case", "name", "fmt"), _corpus_logs())
def test_real_logs_read_the_same_both_ways(case: str, name: str, fmt: str, request: pytest.FixtureRequest) -> None:
    steps = json.loads((CORPUS / case / "trainer_state.json").read_text())["logging_steps"]
    (fast, fast_offset), (general, general_offset) = _read_both(CORPUS / case / name, fmt, request, steps)
    assert fast, "the corpus log must give points"
    assert fast == general
    assert fast_offset == general_offset


def test_real_tensorboard_reads_the_same_with_reference_points(request: pytest.FixtureRequest) -> None:
    pytest.importorskip("tensorboard")
    path = CORPUS / "sft-ls2-eval3-tb" / "runs" / "events.out.tfevents.real"
    (fast, _), (general, _) = _read_both(path, "tensorboard", request)
    assert fast and fast == general


def test_the_fast_paths_are_what_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard for the comparisons above: on the corpus the readers really take the fast paths."""
    calls = {"flatdict": 0, "literal": 0, "segments": 0}
    real_flat, real_literal, real_segment = flatdict.parse, pydict.literal_dict, stdout._Collect.segment

    def count(name: str, real: object) -> object:
        def wrapped(*args: object) -> object:
            calls[name] += 1
            return real(*args)  # type: ignore[operator]

        return wrapped

    monkeypatch.setattr(flatdict, "parse", count("flatdict", real_flat))
    monkeypatch.setattr(pydict, "literal_dict", count("literal", real_literal))
    monkeypatch.setattr(stdout._Collect, "segment", count("segments", real_segment))
    path = CORPUS / "heldout-grpo-collapse" / "stdout.out"
    found, _ = open_source(path, "r", "pydict").read_new(START)
    segments = len(stdout._SEGMENTS.findall(path.read_bytes()))
    assert found and calls["flatdict"] > 0
    assert calls["literal"] < calls["flatdict"] / 4  # printed configs and dataset rows only
    assert calls["segments"] < segments / 2  # most redraws were skimmed, not read one by one


JSONL_LINES = [
    '{"step": 1, "time": 1.7e9, "logs": {"loss": 0.5, "entropy": 2}}',
    '{"step": 2, "logs": {"loss": NaN, "entropy": Infinity, "kl": -Infinity}}',  # Python's JSON only
    '{"step": 3, "logs": {"loss": null, "entropy": true, "note": "x", "reward": "0.25"}}',
    '{"step": 4, "data": {"actor/entropy": 0.4, "critic/score/mean": -0.0}}',
    '{"step": 5, "train/kl": 0.01, "global_step": 9, "nested": {"a": 1, "b": {"c": 2}}}',
    '{"step": 6, "logs": {"eval_loss": 0.3, "epoch": 1.5}}',
    '{"step": 7, "logs": {"loss": 1e400}}',
    '{"step": 8, "logs": {"loss": 123456789012345678901234567890, "step": 99}}',
    '{"logs": {"loss": 0.1}, "time": "1700000000.5"}',
    '{"step": -3, "logs": {"loss": 0.2}}',
    '{"step": 9.7, "logs": {"loss": 0.3, "time": 5}}',
    "[1, 2]",
    "not json at all {",
    "   ",
    '{"step": 10, "logs": {"loss": 0.7, "loss": 0.8}}',
    '{"step": 11, "logs": {"\\u00e9ntropy": 0.9}, "logs": {"entropy": 1.1}}',
]


@pytest.mark.parametrize("order", range(4))
def test_jsonl_lines_msgspec_refuses_read_as_python_reads_them(
    order: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """NaN/Infinity, nulls, text, nesting, flat records, huge numbers, junk, mixed in one block; in any order."""
    rows = list(JSONL_LINES)
    random.Random(order).shuffle(rows)
    data = ("\n".join(rows) + "\n").encode() + b'{"step": 12, "logs": {"loss": "\xff"}}\n'  # invalid UTF-8
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(data)
    (fast, _), (general, _) = _read_both(path, "jsonl", request)
    assert len([p for p in fast if p[0] != "note"]) >= 18
    notes = sorted(str(p[1]).split(": ")[2].split(";")[0] for p in fast if p[0] == "note")
    junk = next(row for row in rows if row in ("[1, 2]", "not json at all {"))  # the first of the two in the file
    assert notes == sorted(["step -3 is negative", "step 9.7 is not a whole number", f"{junk!r} is not a JSON object"])
    assert fast == general


def test_a_clean_block_and_one_bad_line_read_the_same(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    good = [json.dumps({"step": i, "time": 1.7e9 + i, "logs": {"loss": i / 7, "entropy": 1 / (i + 1)}})
            for i in range(1, 300)]  # fmt: skip
    path = tmp_path / "rankinv.jsonl"
    path.write_text("\n".join([*good[:150], '{"step": 150, "logs": {"loss": NaN}}', *good[150:]]) + "\n")
    (fast, _), (general, _) = _read_both(path, "jsonl", request)
    assert len(fast) == 2 * 299 + 1
    assert fast == general


STDOUT_DICTS = [
    "{'loss': '0.12', 'entropy': '2.759', 'epoch': '0.5'}",
    "{'loss': 0.5, 'grad_norm': 1, 'learning_rate': 1e-05, 'epoch': 0.01}",
    "{'loss': nan, 'entropy': inf, 'epoch': 0.1}",
    "{'loss': np.float64(0.25), 'reward': tensor(0.5, device='cuda:0'), 'epoch': 0.2}",
    "{'loss': -0, 'reward': -0.0, 'kl': 00.5, 'epoch': 1.}",
    "{'loss': True, 'reward': None, 'epoch': 0.3}",
    '{"loss": "0.1", \'entropy\': "it\'s", "epoch": 0.4}',
    "{'loss': '0.1', 'note': 'a\\'b', 'epoch': 0.5}",
    "{'eval_loss': '0.3', 'eval_runtime': '1.5', 'epoch': '0.6'}",
    "{'train_runtime': '12.5', 'train_loss': '0.4', 'epoch': '1.0'}",
    "{'prompt': 'after zero comes', 'answer': 'one'}",
    "{'lr': 0.1, 'zero_stage': 2, 'nested': {'a': 1}}",
    "{'loss': 'nan value', 'entropy': '1', 'epoch': 0.7}",
    "{'loss': 1, 'loss': 2, 'epoch': 0.8}",
    "{'loss': 12345678901234567890123, 'epoch': 0.9}",
    "{'loss':0.1, 'epoch': 1.1}",
    "{'loss': 0.1, 'epoch': 1.2,}",
]


@pytest.mark.parametrize("text", STDOUT_DICTS)
def test_a_printed_dict_parses_the_same_both_ways(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = pydict.parse_segment(text)
    monkeypatch.setattr(flatdict, "parse", lambda _text: None)
    monkeypatch.setattr(values, "_flat_record", lambda *_args: values._SLOW)
    general = pydict.parse_segment(text)
    assert (fast is None) == (general is None)
    if fast is not None and general is not None:
        assert fast.step == general.step and list(fast.values) == list(general.values)
        assert [struct.pack("<d", v) for v in fast.values.values()] == [
            struct.pack("<d", v) for v in general.values.values()
        ]


@st.composite
def _stdout_logs(draw: st.DrawFn) -> bytes:
    """A trainer's stdout: training, eval and generation bars (steps may go back), dicts, step lines, noise."""
    total = draw(st.sampled_from([20, 50]))
    parts: list[str] = []
    step = 0
    for _ in range(draw(st.integers(1, 60))):
        kind = draw(st.sampled_from(["train", "train", "eval", "gen", "dict", "dict", "eval_dict", "global",
                                     "noise", "blank", "back", "summary", "json"]))  # fmt: skip
        if kind == "train":
            step = min(total, step + draw(st.integers(0, 3)))
            parts.append(f"\r{step * 100 // total:3d}%|##   | {step}/{total} [00:01<00:02, 3.1it/s]")
        elif kind == "back":
            step = max(0, step - draw(st.integers(1, 5)))
        elif kind == "eval":
            n = draw(st.integers(0, 8))
            parts.append(f"\r{n * 100 // 8:3d}%|#  | {n}/8 [00:00<00:01, 9.0it/s]")
        elif kind == "gen":
            n = draw(st.integers(0, 64))
            parts.append(f"\rProcessed prompts: {n * 100 // 64}%|# | {n}/64 [00:00<00:01, 9.0it/s]")
        elif kind in ("dict", "eval_dict"):
            prefix = "eval_" if kind == "eval_dict" else ""
            value = draw(st.sampled_from(["'0.5'", "'0.25'", "0.125", "nan", "np.float64(0.1)"]))
            parts.append(f"\r{' ' * 10}\r{{'{prefix}loss': {value}, 'epoch': '{step / total:.2f}'}}\n")
        elif kind == "global":
            parts.append(f"Global step {draw(st.integers(0, 60))}\n")
        elif kind == "noise":
            parts.append(draw(st.sampled_from(["warning: x\n", "Saving model checkpoint\n", "{not a dict}\n"])))
        elif kind == "blank":
            parts.append(draw(st.sampled_from(["\n", "\r", "   \r", "\r\n"])))
        elif kind == "summary":
            parts.append("{'train_runtime': '3.5', 'train_loss': '0.4', 'epoch': '1.0'}\n")
        else:
            parts.append('{"step": 3, "loss": 0.5}\n')
    return "".join(parts).encode()


def _read_in_pieces(path: Path, data: bytes, fmt: str, cuts: list[int]) -> tuple[list[tuple[object, ...]], Offset]:
    path.write_bytes(b"")
    reader = open_source(path, "r", fmt, logging_steps=2)
    offset, found, pos = START, [], 0
    for cut in [*sorted(cuts), len(data)]:
        with path.open("ab") as f:
            f.write(data[pos:cut])
        pos = max(pos, cut)
        new, offset = reader.read_new(offset)
        found += [_key(p) for p in new]
    return found, offset


@settings(max_examples=150, deadline=None)
@given(data=_stdout_logs(), cuts=st.lists(st.integers(0, 4000), max_size=4), fmt=st.sampled_from(["pydict", "console"]))
def test_skimming_redraws_leaves_the_reader_where_reading_each_would(
    data: bytes, cuts: list[int], fmt: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any mix of bars, dicts and step lines, grown in any pieces: the same points and offset both ways."""
    path = tmp_path_factory.mktemp("skim") / "slurm-1.out"
    fast = _read_in_pieces(path, data, fmt, [c for c in cuts if c < len(data)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stdout, "MARKS", None)
        patch.setattr(lines, "CONSOLE_MARKS", None)
        general = _read_in_pieces(path, data, fmt, [c for c in cuts if c < len(data)])
    assert fast == general


@given(data=st.lists(st.sampled_from([b"{'", b'{"', b"global", b"x", b"{", b"'"]), max_size=20).map(b"".join))
def test_the_marks_are_found_in_order_once_each(data: bytes) -> None:
    needles = (b"{'", b'{"', b"global", b"{")
    assert list(stdout._marked(data, needles)) == sorted({i for n in needles for i in range(len(data))
                                                          if data.startswith(n, i)})  # fmt: skip


@given(data=st.binary(max_size=40).map(lambda b: b.translate(bytes(b"\r\nx"[i % 3] for i in range(256)))),
       start=st.integers(0, 45), end=st.integers(0, 45))
def test_the_last_line_break_is_found_as_by_both_searches(data: bytes, start: int, end: int) -> None:
    assert stdout._last_break(data, start, end) == max(data.rfind(b"\r", start, end), data.rfind(b"\n", start, end))


def test_trainer_state_with_a_value_msgspec_cannot_make_a_float(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    state = json.loads((CORPUS / "grpo-ls1" / "trainer_state.json").read_text())
    state["log_history"][1]["grad_norm"] = math.nan  # json writes NaN: the typed decode refuses the file
    state["log_history"][2]["note"] = "text"
    shutil.copy(CORPUS / "grpo-ls1" / "case.json", tmp_path / "case.json")
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    (fast, _), (general, _) = _read_both(tmp_path / "trainer_state.json", "trainer_state", request)
    assert fast and fast == general


HARD_NUMBERS = ["0.1", "-0.0", "0", "-0", "-0e0", "1e-06", "2.2250738585072011e-308", "4.9e-324",
                "1.7976931348623157e308", "123456789012345678901234567890", "9007199254740993",
                "0.30000000000000004", "5e-324", "1E+2", "-12.5e-3", "1e400", "1e-400", "-1e-400", "-9007199254740993",
                "18446744073709551617", "1.00000000000000011102230246251565404236316680908203125"]  # fmt: skip
USUAL_VERL = "(TaskRunner pid=7) step:{step} - actor/entropy:np.float64({a}) - actor/lr:{b} - critic/score/mean:{a}"
VERL_LINES = [
    "step:1 - a:np.float64(0.5) - b:1e-06 - training/epoch:0",  # mixed, as verl prints
    "step:2 - a:0.25 - b:-3",  # plain
    "step:3 - a:np.float64(0.5 - b:2)",  # a wrapper closed in the next pair
    "step:4 - a:np.float64(1) - b:(2)",  # a stray parenthesis
    "step:5 - a):np.float64(1",  # a key with a parenthesis, an unclosed wrapper
    'step:6 - "a":1 - b\\u0041:2',  # quotes and backslashes in keys
    "step:7 - :1 - b:2",  # an empty key
    "step:8 -  a:1 - b :2",  # spaces around keys
    "step:9 - a:b:np.float64(1) - c:d:2",  # colons in keys
    "step:10 - a:np.float64(nan) - b:inf - c:NaN",  # not JSON numbers
    "step:11 - a:1. - b:+1 - c:.5 - d:01",  # float() reads them, JSON does not
    "step:12 - a:np.int64(3) - b:tensor(0.5)",  # other wrappers
    "step:13 - a:1 - a:2 - b:np.float64(3) - b:4",  # repeated keys
    "step:14 - step:99 - time:5 - a:1",  # step and time keys among the pairs
    "step:15",  # no pairs
    "step:16 - ",  # an empty pair
    "step:17 - a:1   ",  # trailing spaces
    "step:18 - a:np.float64(1)  ",
    "timing_step:19 - a:1 step:20 - b:2",  # the first "step:" is no step
    "x\x1cstep:21 - a:1",  # a separator text counts as whitespace before the step
    "step:12345678901234567 - a:1",  # a step past what a float holds exactly
    "step:99999999999999999999 - a:1",  # past 64 bits
    "step:٢٣ - a:1",  # non-ASCII digits
    "step:24 - a:np.float64( 0.5 ) - b:np.float64(-1e-3)",
    "step:25 - a:np.float64(1)x - b:2",
    "step:26 - a:1 - b",  # a pair without a colon
    "step:27 - a:1\tb:2",
    "Training Progress:  10%|#         | 1/10 [00:01<00:09]",
    "(WorkerDict pid=9) not a step line: step 28",
    "step:29 - é:1 - b:2",  # non-ASCII key
    "step:-30 - a:1 - b:2",  # steps that cannot be steps: refused with a note, on both paths
    "(TaskRunner pid=3) step:-0 - a:1",
    "step:31.5 - a:1 - b:np.float64(2)",
    "step:32. - a:1",
    "step:33.0 - a:1",  # a whole number written as a float: step 33
    "step:30 - a:1 - b:2\r",  # a CR before the line end
    "step:31 - a:1\rstep:32 - b:2",  # a redraw: the last segment counts
    "step:33 - a:np.float64(1) - b:np.float64(2) - c:np.float64(3)",
    "step:34 - a:-0 - b:np.float64(-0) - c:np.float64( -0 ) - gpu-0/mem:1 - d:-0.0 - e:-0e1",  # float("-0") is -0.0
    "{'loss': 0.5, 'epoch': 0.1}",  # stdout evidence a console log may mix in
    "Global step 7",
    "step:35 - training/global_step:35 - a:1",
    "step:36 - train_runtime:12.5 - train_loss:0.4",  # an end-of-training summary
    "step:37 - eval_loss:0.5 - epoch:1.0",
]


_HARD_DICTS = [f"{{'loss': {n}, 'entropy': '{n}', 'epoch': 0.5}}" for n in HARD_NUMBERS] + [
    "{'loss': '0.1', 'note\tkey': '1', 'epoch': 0.5}",  # a tab JSON refuses in a string
    "{'loss': '0.1', 'é€😀': 'x\x01y', 'epoch': 0.5}",
    "{'loss': 0.5, 'steps': 3, 'epoch': 0.5}",  # an int: left to the pairs
    "{'loss': 1.e5, 'epoch': 0.5}",
    "{'loss': 0" + "0" * 5000 + ", 'epoch': 1.5}",
    "{'loss': 1" + "0" * 4400 + ", 'epoch': 1.5}",  # longer than Python converts
    "{'loss': 1" + "0" * 400 + ".5, 'epoch': 1.5}",  # beyond a double
]


@pytest.mark.parametrize("text", _HARD_DICTS)
def test_a_simple_dict_read_as_json_is_the_dict_its_pairs_give(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON reading of a printed dict gives the pairs' reading (same keys, order, types, bits), and a record
    equal to the one ``ast.literal_eval`` gives."""
    fast = flatdict.as_json(text)
    if flatdict._DICT.fullmatch(text) and fast is not None:
        pairs = flatdict._items(text)
        assert pairs is not None and list(fast) == list(pairs)
        assert [(type(v), struct.pack("<d", v) if type(v) is float else v) for v in fast.values()] == [
            (type(v), struct.pack("<d", v) if type(v) is float else v) for v in pairs.values()
        ]  # fmt: skip
    test_a_printed_dict_parses_the_same_both_ways(text, monkeypatch)


def test_a_simple_dict_is_read_as_json() -> None:
    """Guard: the comparison above compares something."""
    assert flatdict.as_json("{'loss': '0.5', 'grad_norm': 1e-06, 'epoch': 0.25}") == {
        "loss": "0.5", "grad_norm": 1e-06, "epoch": 0.25}  # fmt: skip
    assert sum(flatdict.as_json(t) is not None for t in _HARD_DICTS) >= len(HARD_NUMBERS) // 2


def _verl_block(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def _both(path: Path, fmt: str, request: pytest.FixtureRequest) -> tuple[tuple, tuple]:
    fast = _read(path, fmt)
    with pytest.MonkeyPatch.context() as patch:
        for name, replacement in _GENERAL.items():
            patch.setattr(*name, replacement)
        general = _read(path, fmt)
    return fast, general


_GENERAL = {
    (stdout._Collect, "whole_block"): lambda _self, _data: False,
    (verl_console, "_block"): lambda _data: None,
    (verl_console, "_pairs"): lambda _rest: None,
    (values, "_flat_record"): lambda *_args: values._SLOW,
    (jsonl, "_columns"): lambda _payloads: None,
    (jsonl, "_PAYLOADS"): _Refuse(),
    (jsonl, "loads"): json.loads,
}


@pytest.mark.parametrize("line", VERL_LINES)
@pytest.mark.parametrize("fmt", ["verl_console", "console"])
def test_a_verl_line_reads_the_same_both_ways(line: str, fmt: str, tmp_path: Path,
                                             request: pytest.FixtureRequest) -> None:  # fmt: skip
    """Each hard line alone, and between usual lines (so the block path sees it)."""
    usual = [USUAL_VERL.format(step=100 + i, a=HARD_NUMBERS[i % len(HARD_NUMBERS)], b="1e-06") for i in range(3)]
    for rows in ([line], [usual[0], line, usual[1]]):
        path = tmp_path / "verl.log"
        path.write_bytes(_verl_block(rows))
        fast, general = _both(path, fmt, request)
        assert fast == general


@pytest.mark.parametrize("seed", range(6))
def test_verl_blocks_of_usual_and_hard_lines_read_the_same(seed: int, tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:  # fmt: skip
    rng = random.Random(seed)
    rows = [USUAL_VERL.format(step=i, a=rng.choice(HARD_NUMBERS), b=rng.choice(HARD_NUMBERS)) for i in range(200)]
    if seed % 2:
        rows[rng.randrange(200)] = rng.choice(VERL_LINES)
    path = tmp_path / "verl.log"
    path.write_bytes(_verl_block(rows))
    (fast, fast_offset), (general, general_offset) = _both(path, "verl_console", request)
    assert len(fast) >= 3 * 199
    assert fast == general and fast_offset == general_offset


@pytest.mark.parametrize("piece", [1, 300, 5000])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fmt", ["verl_console", "console"])
def test_verl_blocks_read_in_pieces_read_the_same(piece: int, seed: int, fmt: str, *, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 request: pytest.FixtureRequest) -> None:  # fmt: skip
    """A block is rewritten piece by piece (cut at line ends): the same points as the general path, and the same
    columns and other text as one piece."""
    rng = random.Random(seed)
    easy = ["0.5", "-2.25", "1e-06", "3", "0.30000000000000004", "5e-324"]  # numbers the block path takes
    rows = [USUAL_VERL.format(step=i, a=f"{i}.25", b=rng.choice(easy)) for i in range(200)]
    rows.insert(rng.randrange(200), "(TaskRunner pid=7) Training Progress: a line between the step lines")
    rows.insert(rng.randrange(200), "(TaskRunner pid=7) step:7")  # a step line without pairs: no record
    if seed % 2:
        rows[rng.randrange(200)] = rng.choice(VERL_LINES)
    data = _verl_block(rows)
    monkeypatch.setattr(verl_console, "PIECE_BYTES", 1 << 30)
    whole = verl_console.split_block(data)
    assert whole is not None or seed % 2
    monkeypatch.setattr(verl_console, "PIECE_BYTES", piece)
    assert verl_console.split_block(data) == whole
    path = tmp_path / "verl.log"
    path.write_bytes(data)
    (fast, fast_offset), (general, general_offset) = _both(path, fmt, request)
    assert len(fast) >= 3 * 198
    assert fast == general and fast_offset == general_offset


@pytest.mark.parametrize("where", [0, 90, 199])
def test_an_unusual_verl_line_costs_only_its_piece_the_block_path(where: int, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   request: pytest.FixtureRequest) -> None:  # fmt: skip
    """A NaN (no JSON number) in one line: that line's piece is read line by line, every other piece as columns,
    and the points are the general path's, with the NaN where the line has it."""
    rows = [USUAL_VERL.format(step=i, a=f"{i}.25", b="1e-06") for i in range(200)]
    rows[where] = USUAL_VERL.format(step=where, a="nan", b="1e-06")
    path = tmp_path / "verl.log"
    path.write_bytes(_verl_block(rows))
    monkeypatch.setattr(verl_console, "PIECE_BYTES", 1000)  # about 12 lines a piece
    calls: list[object] = []
    real = verl_console._block
    monkeypatch.setattr(verl_console, "_block", lambda data: calls.append(real(data)) or calls[-1])
    (fast, fast_offset), (general, general_offset) = _both(path, "verl_console", request)
    taken = [isinstance(c, columns.Columns) for c in calls]
    assert len(taken) >= 15 and taken.count(False) == 1
    assert fast == general and fast_offset == general_offset and len(fast) == 200 * 3
    nan = [p for p in fast if p[1] == where and p[2] == "entropy"]
    assert len(nan) == 1 and math.isnan(struct.unpack("<d", nan[0][3])[0])


_VERL_KEYS = st.sampled_from(["a", "b/c", "x y", "a,b", "f(x)", "g(", " k", ""])
_VERL_VALUES = st.sampled_from(["1", "0.5", "-0", "-0.0", "1e-06", "x", " 2 ", "1.", "-1e400", "", "{}", '"1"'])
_VERL_WRAPS = st.sampled_from(["np.float64({})", "np.float64({})", "{}", "np.float64({}", "{})", "np.float64({})1",
                               "np.float64({})\t", "np.float64( {} )", "({})", "np.float64({})}},{{"])
_VERL_PAIR = st.builds(lambda k, v, w: f"{k}:{w.format(v)}", _VERL_KEYS, _VERL_VALUES, _VERL_WRAPS)
_VERL_JUNK = st.lists(st.sampled_from([" - ", ":", "np.float64(", ")", "(", "a", "1", "-0", " ", ",", '"', "\\",
                                       "-", "\t", "},{", "]", "{"]), min_size=1, max_size=8).map("".join)  # fmt: skip
_VERL_RESTS = st.one_of(st.lists(_VERL_PAIR, min_size=1, max_size=3).map(" - ".join), _VERL_JUNK)


@settings(max_examples=400, deadline=None)
@given(rests=st.lists(_VERL_RESTS, min_size=1, max_size=3))
def test_pairs_the_json_rewrite_accepts_read_as_the_pair_by_pair_path(rests: list[str]) -> None:
    """Each line's object in the rewritten block is what the pair-by-pair reading gives, for every line the block
    path goes on with (one object per line, keys non-empty without spaces around them)."""
    doc = verl_console._as_json([r.encode() for r in rests])
    try:
        rows = verl_console._ROWS.decode(doc) if doc is not None else None
    except msgspec.DecodeError:
        rows = None
    if rows is None or len(rows) != len(rests):
        return
    for row, rest in zip(rows, rests, strict=True):
        if row and all(k and k == k.strip() for k in row):
            general = verl_console._general("1", " - " + rest)
            assert general is not None
            assert [(k, struct.pack("<d", v)) for k, v in general.values.items()] == [
                (k, struct.pack("<d", v)) for k, v in row.items()
            ]  # fmt: skip


def test_a_usual_verl_log_takes_the_block_path_in_the_console_reader_too(tmp_path: Path) -> None:
    path = tmp_path / "verl.log"
    path.write_bytes(_verl_block([USUAL_VERL.format(step=i, a=f"{i}.5", b="1e-06") for i in range(1, 40)]))
    taken = []
    real = stdout._Collect.whole_block
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stdout._Collect, "whole_block", lambda self, data: taken.append(real(self, data)) or taken[-1])
        found, _ = open_source(path, "r", "console").read_new(START)
    assert taken == [True] and len(found) == 39 * 3


def test_a_usual_verl_log_takes_the_block_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard: the comparisons above compare something; values come from the text, not from the code under test."""
    calls = []
    real = verl_console._block
    monkeypatch.setattr(verl_console, "_block", lambda data: calls.append(real(data)) or calls[-1])
    path = tmp_path / "verl.log"
    path.write_bytes(_verl_block([USUAL_VERL.format(step=i, a=f"{i}.5", b="1e-06") for i in range(1, 4)]))
    found, _ = open_source(path, "r", "verl_console").read_new(START)
    assert calls and all(isinstance(c, columns.Columns) for c in calls)
    assert [(p.step, p.name, p.value) for p in found[:3]] == [(1, "entropy", 1.5), (1, "learning_rate", 1e-06),
                                                              (1, "reward_mean", 1.5)]  # fmt: skip


JSONL_TRAPS = [
    '{"step": 1, "logs": {"loss": 0.5}} {"step": 2, "logs": {"loss": 0.6}}',  # two objects on one line
    '{"step": 3, "logs":',  # an object across two lines
    '{"loss": 0.7}}',
    '{"step": 4, "logs": {"loss": 0.8}, "data": {"loss": 0.9}}',  # both payloads: logs wins
    '{"step": 5, "data": {"actor/entropy": 0.4}}',
    '{"step": 6, "time": 0.0, "logs": {"loss": 0.1}}',
    '{"step": 7, "time": 1e400, "logs": {"loss": 0.1}}',
    '{"step": 8, "time": 12, "logs": {"loss": 0.1}}',
    '{"step": true, "logs": {"loss": 0.1}}',
    '{"step": 9223372036854775808, "logs": {"loss": 0.1}}',
    '{"step": 10, "logs": {}}',
    '{"step": 11, "logs": {"time": 3, "loss": 0.2}}',
    '{"step": -12, "logs": {"loss": 0.1}}',  # steps that cannot be steps: refused with a note, on both paths
    '{"step": 12.5, "data": {"actor/entropy": 0.1}}',
    '{"step": NaN, "logs": {"loss": 0.1}}',
    '{"step": "13", "logs": {"loss": 0.1}}',  # numeric text: step 13
    '{"global_step": -1e400, "loss": 0.1}',
]


@pytest.mark.parametrize("seed", range(6))
def test_jsonl_blocks_with_traps_read_the_same(seed: int, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    rng = random.Random(seed)
    rows = [json.dumps({"step": i, "time": 1.7e9 + i, "logs": {"loss": float(rng.choice(HARD_NUMBERS)),
                                                                "entropy": i / 7}}) for i in range(100)]  # fmt: skip
    if seed:
        at = rng.randrange(100)
        rows[at:at] = rng.sample(JSONL_TRAPS, k=min(seed, len(JSONL_TRAPS)))
    path = tmp_path / "rankinv.jsonl"
    path.write_text("\n".join(rows) + "\n")
    (fast, fast_offset), (general, general_offset) = _both(path, "jsonl", request)
    assert len(fast) >= 190
    assert fast == general and fast_offset == general_offset


def test_the_corpus_jsonl_takes_the_columns_path(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    real = Points.add_columns

    def counting(found: Points, block: columns.Columns) -> None:
        before = len(found)
        real(found, block)
        made.append(len(found) - before)

    monkeypatch.setattr(Points, "add_columns", counting)
    found, _ = open_source(CORPUS / "heldout-grpo-collapse" / "rankinv.jsonl", "r", "jsonl").read_new(START)
    assert made and sum(made) == len(found) > 0


_USUAL_LINES = st.builds(lambda i, a, b: USUAL_VERL.format(step=i, a=a, b=b), st.integers(0, 10**6),
                         st.sampled_from(HARD_NUMBERS), st.sampled_from(HARD_NUMBERS))  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.one_of(st.sampled_from(VERL_LINES), _USUAL_LINES), min_size=1, max_size=40),
       cuts=st.lists(st.integers(0, 6000), max_size=4), fmt=st.sampled_from(["verl_console", "console"]),
       repeat=st.booleans())  # fmt: skip
def test_verl_logs_grown_in_pieces_read_the_same(rows: list[str], cuts: list[int], fmt: str, repeat: bool,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    """Usual and hard lines, stdout evidence, a line printed twice (as by two ranks), read in any pieces."""
    if repeat:
        rows = [*rows, rows[-1]]
    data = _verl_block(rows)
    path = tmp_path_factory.mktemp("verl") / "verl.log"
    fast = _read_in_pieces(path, data, fmt, [c for c in cuts if c < len(data)])
    with pytest.MonkeyPatch.context() as patch:
        for name, replacement in _GENERAL.items():
            patch.setattr(*name, replacement)
        general = _read_in_pieces(path, data, fmt, [c for c in cuts if c < len(data)])
    assert fast == general


@pytest.mark.parametrize("number", HARD_NUMBERS)
def test_trainer_state_hard_numbers_read_the_same(number: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    entries = [f'{{"loss": {number}, "grad_norm": {number}, "epoch": 0.5, "step": {i}}}' for i in range(1, 4)]
    entries.append(f'{{"eval_loss": {number}, "epoch": 0.5, "step": 3}}')
    path = tmp_path / "trainer_state.json"
    path.write_text('{"global_step": 3, "log_history": [' + ", ".join(entries) + "]}")
    (fast, _), (general, _) = _read_both(path, "trainer_state", request)
    assert fast == general and len(fast) == 3 * 3 + 1


@pytest.mark.parametrize("step", ["-1", "2.5", "1e30", "NaN", "3.0"])
def test_trainer_state_steps_that_cannot_be_steps_read_the_same(step: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:  # fmt: skip
    entries = [f'{{"loss": 0.{i}5, "step": {i}}}' for i in range(1, 4)]
    entries.insert(1, f'{{"loss": 0.7, "epoch": 0.5, "step": {step}}}')
    path = tmp_path / "trainer_state.json"
    path.write_text('{"global_step": 3, "log_history": [' + ", ".join(entries) + "]}")
    (fast, _), (general, _) = _read_both(path, "trainer_state", request)
    assert fast == general
    assert len(fast) == (3 + 2 if step == "3.0" else 3 + 1)  # the whole 3.0 is step 3; any other is one note


FIXTURES = Path(__file__).parent / "data" / "logs"


@pytest.mark.parametrize(("name", "fmt"), [("verl_console.log", "verl_console"), ("verl_file.jsonl", "jsonl"),
                                           ("openrlhf_wandb.jsonl", "jsonl"), ("verl_console.log", "console")])
def test_fixture_logs_give_the_same_points_and_notes_both_ways(name: str, fmt: str) -> None:
    """The daemon's once-per-run notes (rounding, values logged as null/NaN) come from the points: the same too."""
    from rankinv.ingest.rounding import rounding_note

    def read() -> tuple[list[tuple[object, ...]], str | None, set[tuple[str, int]]]:
        found, _ = open_source(FIXTURES / name, "r", fmt).read_new(START)
        missing = {(p.name, p.step) for p in found if math.isnan(p.value)}
        return [_key(p) for p in found], rounding_note(found, name), missing

    fast = read()
    with pytest.MonkeyPatch.context() as patch:
        for target, replacement in _GENERAL.items():
            patch.setattr(*target, replacement)
        general = read()
    assert fast[0] and fast == general


@pytest.mark.parametrize("case", CASES)
def test_the_state_fields_readers_use_are_the_same_both_ways(case: str, request: pytest.FixtureRequest) -> None:
    """Discovery and the stdout reader take global_step and logging_steps from the decoded state."""
    from rankinv.ingest.sources import logging_steps

    def fields() -> tuple[object, ...]:
        state = trainer_state.newest_state(CORPUS / case)
        assert state is not None
        return state[1].get("global_step"), state[1].get("logging_steps"), logging_steps(CORPUS / case)

    fast = fields()
    request.getfixturevalue("general_paths")
    assert fast == fields() and fast[0] is not None and fast[1] is not None


FRAMEWORKS = Path(__file__).parent / "data" / "frameworklogs"


@pytest.mark.parametrize("path", sorted(p for p in FRAMEWORKS.rglob("*") if p.is_file() and p.suffix in
                                        (".out", ".log", ".jsonl")), ids=lambda p: str(p.relative_to(FRAMEWORKS)))
@pytest.mark.parametrize("fmt", ["auto", "console"])
def test_framework_logs_read_the_same_both_ways(path: Path, fmt: str) -> None:
    """Lines written by verl's and OpenRLHF's own logging code: every fast path against its general path."""
    from rankinv.ingest.detect import detect_format

    chosen = detect_format(path) if fmt == "auto" else fmt
    fast = _read(path, chosen)
    with pytest.MonkeyPatch.context() as patch:
        for target, replacement in {**_GENERAL, (flatdict, "parse"): lambda _text: None}.items():
            patch.setattr(*target, replacement)
        general = _read(path, chosen)
    assert fast[0] and fast == general


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["step:", "step", ":", "1", "09", " - ", "-", "x", ")", "]", "(", "\x1c",
                                           "\t", " ", "a:1"]), max_size=10).map("".join), max_size=8))
def test_the_block_step_pattern_finds_the_steps_the_line_pattern_finds(lines: list[str]) -> None:
    """The block regex (literal first, lookbehind after it) splits out exactly what the line regex finds per line."""
    block = "\n".join(lines).encode()
    parts = verl_console._STEP_LINES.split(block)
    found = [m for line in block.decode().split("\n") if (m := verl_console._STEP.search(line))]
    expected = [m for m in found if m["step"].isdigit()]
    odd = [m for m in found if not m["step"].isdigit()]  # negative or fractional: left for the line path
    assert [int(s) for s in parts[1::3]] == [int(m["step"]) for m in expected]
    assert [r or b"" for r in parts[2::3]] == [m["rest"][3:].encode() for m in expected]
    if odd:
        assert verl_console._ODD_STEP.search(b"".join(parts[0::3])), "the block path must leave such a line to the"
