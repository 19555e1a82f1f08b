"""`rankinv status` (text) says what the readers could not read in each run's logs, not only `--json` and the TUI.

Oracles: the lines each test writes (which line is bad, and why) and the number of runs made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rankinv.cli import main

GOOD = '{{"step": {s}, "logs": {{"entropy": {e}, "reward": 0.5}}}}\n'


def _run(root: Path, name: str, extra: str = "") -> None:
    d = root / name
    d.mkdir(parents=True)
    lines = [GOOD.format(s=s, e=1 - s / 7) for s in range(1, 6)]  # (many decimals: no rounding note)
    lines.insert(1, extra)
    (d / "rankinv.jsonl").write_text("".join(lines))


def test_status_prints_each_runs_notes_under_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    _run(root, "grpo-bad", '{"step": -1, "logs": {"entropy": 0.1}}\njunk from a print\n')
    _run(root, "grpo-clean")
    _run(root, "grpo-\x1b[31mred", "\x1b]0;owned\x07\n")  # a hostile name and line: shown escaped
    assert main(["status", str(root), "--state-dir", str(tmp_path / "state")]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if ": note: " in line]
    assert any(line.startswith("grpo-bad: note: rankinv.jsonl: line 2: step -1 is negative") for line in notes)
    assert any(line.startswith("grpo-bad: note: rankinv.jsonl: line 3: 'junk from a print' is not a JSON object")
               for line in notes)  # fmt: skip
    assert not any(line.startswith("grpo-clean") for line in notes)
    assert len(notes) == 3 and "\x1b" not in out and "\x07" not in out
    capsys.readouterr()
    assert main(["status", str(root), "--state-dir", str(tmp_path / "state")]) == 0  # the store's notes again
    assert [line for line in capsys.readouterr().out.splitlines() if ": note: " in line] == notes


def test_status_shows_at_most_twenty_notes_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    for i in range(25):
        _run(root, f"grpo-{i:02d}", "not json\n")
    assert main(["status", str(root), "--state-dir", str(tmp_path / "state")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len([line for line in lines if ": note: " in line]) == 20
    assert lines[-1].startswith("(only the newest 20 notes are shown")


def test_explain_without_entropy_says_n_a_never_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run-a"
    run.mkdir()
    (run / "rankinv.jsonl").write_text('{"step": 1, "logs": {"loss": 0.5}}\n')  # no entropy logged
    assert main(["explain", str(run)]) == 0
    out = capsys.readouterr().out
    assert "last step n/a" in out and "entropy: baseline n/a, now n/a" in out
    assert "None" not in out


def test_status_on_an_empty_root_says_so_without_an_empty_table(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    assert main(["status", str(root), "--state-dir", str(tmp_path / "state")]) == 0
    out = capsys.readouterr().out
    assert "no training runs found under" in out and "`rankinv runs`" in out
    assert not any(ch in out for ch in "┏┃━│")  # no table borders
