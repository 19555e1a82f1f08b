"""Which file ``l`` pages for a run: its newest trainer or Slurm log, found inside the run folder only. Pure I/O."""

from __future__ import annotations

from pathlib import Path

# Most useful first: what the job printed, then what rankinv's callback wrote, then the trainer's own state.
PATTERNS = ("*.log", "*.out", "*.err", "*.txt", "rankinv.jsonl", "*.jsonl", "trainer_state.json")


def find_log(run_path: Path, root: Path) -> Path | None:
    """The newest file matching the first pattern that matches anything, never outside ``root`` (a symlink
    pointing elsewhere is skipped: the runs root is shared, untrusted ground)."""
    try:
        base = run_path.resolve()
        top = root.expanduser().resolve()
        if top != base and top not in base.parents:
            return None
        for pattern in PATTERNS:
            found = [p for p in base.glob(pattern) if p.is_file() and _inside(p, base)]
            if found:
                return max(found, key=lambda p: p.stat().st_mtime)
    except OSError:
        return None
    return None


def _inside(path: Path, base: Path) -> bool:
    return base in path.resolve().parents
