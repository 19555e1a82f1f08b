"""The readers' fast paths give exactly the points of their general paths.

Every fast path (msgspec JSON in whole blocks and straight into floats, a regular expression for flat stdout
dicts, C-speed records and points, skimming tqdm redraws) has a general path beside it that reads the same input
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

from rankinv.ingest import START, Offset, flatdict, jsonl, lines, open_source, pydict, stdout, trainer_state, values
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
    monkeypatch.setattr(jsonl, "parse_block", lines.each_line(jsonl.parse_line))
    monkeypatch.setattr(flatdict, "parse", lambda _text: None)
    monkeypatch.setattr(stdout, "MARKS", None)
    monkeypatch.setattr(lines, "CONSOLE_MARKS", None)
    monkeypatch.setattr(trainer_state, "_STATE", _Refuse())
    yield


def _key(p: MetricPoint) -> tuple[object, ...]:
    """A point as comparable data, floats bit for bit (NaN equals NaN, -0.0 differs from 0.0)."""
    bits = [None if x is None else struct.pack("<d", x) for x in (p.value, p.time)]
    return (p.run, p.step, p.name, *bits)


def _read(path: Path, fmt: str, logging_steps: int = 1) -> tuple[list[tuple[object, ...]], Offset]:
    found, offset = open_source(path, "r", fmt, logging_steps=logging_steps).read_new(START)
    return [_key(p) for p in found], offset


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
    assert len(fast) >= 20
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


def test_trainer_state_with_a_value_msgspec_cannot_make_a_float(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    state = json.loads((CORPUS / "grpo-ls1" / "trainer_state.json").read_text())
    state["log_history"][1]["grad_norm"] = math.nan  # json writes NaN: the typed decode refuses the file
    state["log_history"][2]["note"] = "text"
    shutil.copy(CORPUS / "grpo-ls1" / "case.json", tmp_path / "case.json")
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    (fast, _), (general, _) = _read_both(tmp_path / "trainer_state.json", "trainer_state", request)
    assert fast and fast == general
