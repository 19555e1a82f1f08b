"""The CLI: every command has help text and a README entry; the signal calculator answers correctly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rankinv.cli import COMMAND_MODULES, build_parser, main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _subcommands() -> dict[str, str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return {choice.dest: (choice.help or "") for choice in action._choices_actions}


def test_every_command_has_help() -> None:
    commands = _subcommands()
    assert set(commands) >= {m.replace("_", "-") for m in COMMAND_MODULES}  # notify_test.py is notify-test
    for name, text in commands.items():
        assert len(text) > 15, f"`rankinv {name}` needs a one-line help text"


def test_every_command_runs_something() -> None:
    """Parsers of the daemon's and the TUI's commands leave ``func`` to rankinv.cli: none may be left unbound."""
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    unbound = [name for name, sub in action.choices.items() if not callable(sub.get_default("func"))]
    assert not unbound, f"bind these commands in rankinv.cli: {unbound}"


def test_every_command_is_in_the_readme() -> None:
    for name in _subcommands():
        assert re.search(rf"`rankinv {name}\b", README), f"README.md does not mention `rankinv {name}`"


def test_signal_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signal", "-g", "8", "-p", "0.05", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["p_star"] == pytest.approx(0.0830, abs=1e-4)
    assert out["degenerate_probability"] == pytest.approx(0.95**8 + 0.05**8)
    assert out["headroom"] < 1


def test_signal_counts_use_unbiased_estimators(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signal", "-g", "4", "-c", "2", "-n", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["degenerate_probability"] == 0.0  # C(2,4)+C(2,4) = 0
    assert out["expected_variance"] == pytest.approx(2 * 2 / 12 * 3 / 4)


def test_bad_input_is_a_clean_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rankinv", "signal", "-p", "1.5"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "pass rate must lie in [0, 1]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_reader_that_leaves_early_stops_the_command_quietly(tmp_path: Path) -> None:
    """``rankinv metrics LOG --json | head``: no traceback when head closes the pipe, and the exit status a shell
    shows for a tool killed by SIGPIPE. The JSON (about 1 MB) is larger than any pipe buffer, so the write after
    the close always fails, however the two processes are scheduled."""
    log = tmp_path / "rankinv.jsonl"
    log.write_text("".join(json.dumps({"step": i, "logs": {"loss": 0.5, "reward": i / 4000}}) + "\n"
                           for i in range(1, 4001)))  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "rankinv", "metrics", str(log), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b"[")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""
