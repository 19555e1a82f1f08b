"""Benchmarks: ``python -m benchmarks NAME [--quick]`` runs ``benchmarks/bench_NAME.py``.

Each benchmark module defines ``run(quick: bool) -> Result``; the harness prints a table and writes
``benchmarks/results/NAME.json``. The README's benchmark table is copied from these outputs.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


@dataclass
class Result:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}


def save(name: str, result: Result) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"name": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(), **asdict(result)}
    path.write_text(json.dumps(payload, indent=2))
    return path
