"""`import rankinv` and `rankinv --help` must stay fast: no torch, transformers, vllm, textual or watchdog, and not
the daemon or the TUI either (the composition root, rankinv.cli, imports them only to run their commands)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "vllm", "textual", "trl", "watchdog", "rankinv.daemon", "rankinv.tui")

PROBE = """
import sys
{body}
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY:" + ",".join(heavy))
"""


def _heavy_after(body: str) -> list[str]:
    code = PROBE.format(body=body, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("HEAVY:"))
    return [m for m in line[len("HEAVY:") :].split(",") if m]


def test_import_rankinv_is_light() -> None:
    assert _heavy_after("import rankinv") == []


def test_help_is_light() -> None:
    body = (
        "from rankinv.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass"
    )
    assert _heavy_after(body) == []


@pytest.mark.parametrize(
    "command",
    [
        "signal", "runs", "metrics", "triage", "arm", "disarm", "notify-test", "rank", "explain", "calibrate",
        "daemon", "status", "init", "watch", "demo",
    ],
)
def test_subcommand_help_is_light(command: str) -> None:
    body = (
        "from rankinv.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try:\n        main([{command!r}, '--help'])\n    except SystemExit:\n        pass"
    )
    assert _heavy_after(body) == []


def test_probe_detects_heavy_imports() -> None:
    """The probe itself can fail: importing textual is seen."""
    assert _heavy_after("import textual") == ["textual"]
