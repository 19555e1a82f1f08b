"""The ladder's result table: rows, Spearman correlations with the outcome, JSON and Markdown."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from examples.ladder.rung import Row
from rankinv.assess import jsonable
from rankinv.stats import spearman

COLUMNS = (
    ("depth", "SFT steps"), ("epochs", "epochs"), ("pass1", "pre-RL pass@1"), ("entropy", "rollout entropy"),
    ("headroom", "headroom"), ("predicted", "predicted pass@10"), ("actual", "actual pass@10"),
    ("stage1", "stage 1"), ("stage2", "stage 2"),
)


@dataclass(frozen=True)
class Table:
    rows: tuple[Row, ...]
    settings: dict[str, Any]
    command: str
    wall_time_s: float

    def correlations(self) -> dict[str, float | None]:
        """Spearman of each pre-RL signal (and rankinv's in-RL prediction) with the actual pass@10."""
        actual = [r.actual for r in self.rows]
        return {
            "predicted": _rho([r.predicted for r in self.rows], actual),
            "pass1": _rho([r.pass1 for r in self.rows], actual),
            "entropy": _rho([r.entropy for r in self.rows], actual),
            "predicted_rl": _rho([r.predicted_rl for r in self.rows], actual),
        }

    def best_pass1_rank(self) -> int:
        """Where the checkpoint with the best pre-RL pass@1 finishes after RL (1 = best actual pass@10)."""
        best = max(self.rows, key=lambda r: r.pass1)
        return 1 + sum(r.actual > best.actual for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "rows": [dataclasses.asdict(r) for r in self.rows], "spearman": self.correlations(),
            "best_pass1_finishes": self.best_pass1_rank(), "rungs": len(self.rows), "settings": self.settings,
            "command": self.command, "wall_time_s": round(self.wall_time_s, 1),
        })

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        head = "| " + " | ".join(title for _, title in COLUMNS) + " |"
        rule = "|" + "|".join("---:" if key not in ("stage1", "stage2") else "---" for key, _ in COLUMNS) + "|"
        lines = [head, rule, *(_md_row(r) for r in self.rows), ""]
        rho = self.correlations()
        lines.append(f"Spearman with actual pass@10: predicted {_fmt(rho['predicted'])}, "
                     f"pre-RL pass@1 {_fmt(rho['pass1'])} (rollout entropy {_fmt(rho['entropy'])}; "
                     f"rankinv after reading the RL logs {_fmt(rho['predicted_rl'])}).")
        lines.append(f"The checkpoint with the best pre-RL pass@1 finishes {self.best_pass1_rank()} of "
                     f"{len(self.rows)} after GRPO.")
        lines.append(f"`{self.command}` — wall time {self.wall_time_s / 60:.1f} min.")
        return "\n".join(lines) + "\n"


def _rho(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman, or None when either side is constant or too short (the rank correlation is undefined)."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    value = spearman(x, y)
    return value if math.isfinite(value) else None


def _fmt(x: float | None) -> str:
    return "undefined" if x is None else f"{x:+.2f}"


def _cell(row: Row, key: str) -> str:
    value = getattr(row, key)
    if key == "stage1":
        return "FLAG (" + ", ".join(row.stage1_reasons) + ")" if row.stage1_reasons else value
    if key == "stage2" and row.stage2_first_kill is not None and value != "KILL":
        return f"{value} (KILL at step {row.stage2_first_kill})"
    if key == "predicted":
        return f"{value:.3f} [{row.predicted_lo:.2f}, {row.predicted_hi:.2f}]"
    if isinstance(value, float):
        return f"{value:.3f}" if key != "epochs" else f"{value:.1f}"
    return str(value)


def _md_row(row: Row) -> str:
    return "| " + " | ".join(_cell(row, key) for key, _ in COLUMNS) + " |"
