"""Values that used to poison a whole run: steps beyond 64 bits, infinities."""

from __future__ import annotations

from pathlib import Path

from tests.evil.roots.common import grpo_lines, run_dir


def huge_step(root: Path) -> None:
    """One record with step 2^64 between good ones: only that record is skipped (and noted)."""
    path = run_dir(root, b"huge-step") / "rankinv.jsonl"
    bad = '{"step": 18446744073709551616, "entropy": 2.0}\n'
    path.write_text(grpo_lines(2) + bad + '{"step": 3, "entropy": 0.9}\n', encoding="utf-8")


def infinities(root: Path) -> None:
    """kl = +Infinity and -Infinity (JSON extensions Python writes): both signs must survive the store."""
    path = run_dir(root, b"infinities") / "rankinv.jsonl"
    path.write_text(grpo_lines(2) + '{"step": 3, "entropy": 0.9, "kl": Infinity}\n'
                    '{"step": 4, "entropy": 0.8, "kl": -Infinity}\n', encoding="utf-8")


def huge_numbers(root: Path) -> None:
    """A 400-digit value (beyond float) and a 400-digit step: the value reads as +inf, that step's record drops."""
    path = run_dir(root, b"huge-numbers") / "rankinv.jsonl"
    path.write_text(grpo_lines(1) + '{"step": 2, "entropy": 0.5, "kl": 1' + "0" * 400 + '}\n'
                    '{"step": 1' + "0" * 400 + ', "entropy": 7.0}\n{"step": 3, "entropy": 0.25}\n', encoding="utf-8")


CASES = {
    b"huge-step": (huge_step, "steps 1, 2, 3 kept; the 2^64 record alone is skipped, with a note naming its line"),
    b"infinities": (infinities, "kl +inf at step 3 and -inf at step 4, read back with their signs"),
    b"huge-numbers": (huge_numbers, "entropy at steps 1, 2, 3 (no 7.0); kl +inf at step 2"),
}
