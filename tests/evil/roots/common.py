"""Shared pieces of the hostile roots: a healthy GRPO log, a private file outside the root."""

from __future__ import annotations

import json
import os
from pathlib import Path

SECRET = "hunter2-private-value"
OSC52 = "\x1b]52;c;aGVsbG8=\x07"  # writes "hello" to the clipboard of a terminal that allows it
TITLE = "\x1b]0;pwned\x07"  # sets the window title


def run_dir(root: Path, name: bytes) -> Path:
    path = Path(os.fsdecode(os.fsencode(root) + b"/" + name))
    path.mkdir(parents=True)
    return path


def grpo_lines(steps: int = 4, **extra: float) -> str:
    return "".join(
        json.dumps({"step": s, "entropy": 1.0 - 0.01 * s, "reward_mean": 0.5, **extra}) + "\n"
        for s in range(1, steps + 1)
    )


def healthy(path: Path) -> Path:
    (path / "rankinv.jsonl").write_text(grpo_lines(), encoding="utf-8")
    return path


def private_file(root: Path) -> Path:
    """A file next to the root (not under it) that only its owner should see."""
    secret = root.parent / "private.json"
    secret.write_text(json.dumps({"kind": "SFT", "model_path": SECRET, "note": SECRET}), encoding="utf-8")
    secret.chmod(0o600)
    return secret
