"""The groups of g completions behind each logged step of a GRPO run (G), and where that number came from.

The sequential coverage test (:mod:`rankinv.coverage`) counts all-fail groups as whole numbers only when G is
*stated*: by ``[verdict] groups_per_step`` (the user's word, which wins), else by the run manifest's
``groups_per_step`` (written by rankinv's TRL callback from the trainer's own arguments). The manifest is
untrusted input: a value that is not a whole number from 1 to :data:`MAX_STATED` is ignored with a note, and G
is then read from the logs, as when nothing states it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rankinv.config import Config
from rankinv.coverage import groups_per_step
from rankinv.messages import Reason

MAX_STATED = 1_000_000  # the largest ``[verdict] groups_per_step`` allows
CONFIG, MANIFEST, UNKNOWN = "config", "manifest", "not known"
IGNORED = "run manifest groups_per_step ignored"


@dataclass(frozen=True)
class StatedGroups:
    """G as stated (None: not stated), its source (``config``, ``manifest``, ``not known``) and, for a manifest
    value that was ignored, why."""

    value: int | None
    source: str
    ignored: str = ""

    def note(self) -> Reason | None:
        """The per-run note for an ignored manifest value, as an info-grade reason (None when nothing was)."""
        if not self.ignored:
            return None
        return Reason(IGNORED, math.nan, math.nan, "", None, None, "info",
                      f"{self.ignored}; G read from the logged zero-std shares instead")  # fmt: skip

    def describe(self, signal: Sequence[tuple[int, float, float]] = ()) -> str:
        """One line for ``rankinv explain``: the value, where it came from, and what the logs say of it."""
        shares = [z for _, r, z in signal if math.isfinite(r) and math.isfinite(z)]  # the points the test reads
        read = groups_per_step(shares) if shares else None
        if self.value is None:
            fits = f", the logged zero-std shares fit {read} (a lower bound)" if read else ""
            why = f" (run manifest groups_per_step {self.ignored}: ignored)" if self.ignored else ""
            return f"not known{why}{fits}"
        where = "[verdict] groups_per_step" if self.source == CONFIG else "the run manifest"
        if read is not None and self.value % read:
            return f"{self.value}, from {where}, ignored: the logged zero-std shares need {read} (G read from them)"
        return f"{self.value}, from {where}"


def stated_groups(manifest: Mapping[str, Any] | None, config: Config) -> StatedGroups:
    """``[verdict] groups_per_step`` when set, else the manifest's ``groups_per_step`` when it is a whole number
    from 1 to :data:`MAX_STATED`, else not known (with the reason a manifest value was ignored)."""
    if config.verdict.groups_per_step:
        return StatedGroups(config.verdict.groups_per_step, CONFIG)
    raw = (manifest or {}).get("groups_per_step")
    if raw is None:
        return StatedGroups(None, UNKNOWN)
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= MAX_STATED:
        return StatedGroups(raw, MANIFEST)
    return StatedGroups(None, UNKNOWN, f"{_shown(raw)} is not a whole number from 1 to {MAX_STATED}")


def _shown(raw: object) -> str:
    """A short, printable form of an untrusted manifest value."""
    text = repr(raw) if isinstance(raw, (str, int, float, bool)) else f"a JSON {type(raw).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


NOT_STATED = StatedGroups(None, UNKNOWN)
