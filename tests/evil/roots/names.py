"""Run and metric names that are terminal input, markup, or not UTF-8."""

from __future__ import annotations

import json
from pathlib import Path

from tests.evil.roots.common import OSC52, TITLE, grpo_lines, healthy, run_dir


def osc_names(root: Path) -> None:
    """A run whose name writes the clipboard and whose metric name sets the window title."""
    d = run_dir(root, f"osc{OSC52}run".encode())
    records = [{"step": s, "entropy": 1.0, f"reward{TITLE}": 0.5} for s in range(1, 4)]
    (d / "rankinv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def markup_name(root: Path) -> None:
    """A run called ``markup[/]x`` (a folder ``markup[`` holding ``]x``): Rich markup's closing tag."""
    healthy(run_dir(root, b"markup[/]x"))


def latin1_name(root: Path) -> None:
    """A run folder named in Latin-1 (``caf\\xe9``), which is not valid UTF-8, with a metric key to match."""
    d = run_dir(root, b"caf\xe9")
    (d / "rankinv.jsonl").write_bytes(grpo_lines().encode() + b'{"step": 5, "entropy": 0.5, "r\\udce9": 1}\n')


CASES = {
    b"osc" + OSC52.encode() + b"run": (osc_names, "shown as osc\\x1b]52;… everywhere; no ESC byte in any output"),
    b"markup[/]x": (markup_name, "listed literally as markup[/]x"),
    b"caf\xe9": (latin1_name, "shown as caf\\xe9; the daemon starts and ingests it"),
}
