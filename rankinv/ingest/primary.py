"""The one log a run's metrics are read from, when it has several of the same numbers.

A run often has several logs (the callback's JSONL, stdout, trainer_state.json, TensorBoard). Mixing them would
let whichever file changed last decide a value (stdout rounds to four digits), so the daemon ingests, and
``rankinv explain`` reads, the first present of :data:`PRIORITY`: live and full-precision first,
``trainer_state.json`` (written only at saves) last.
"""

from __future__ import annotations

from rankinv.ingest import Source
from rankinv.ingest.detect import CONSOLE, JSONL, PYDICT, TENSORBOARD, TRAINER_STATE, VERL_CONSOLE

PRIORITY = (JSONL, TENSORBOARD, VERL_CONSOLE, PYDICT, CONSOLE, TRAINER_STATE)


def primary_source(sources: list[Source]) -> list[Source]:
    """The one source a run's metrics are read from (as a list: empty when the run has no log yet)."""
    ranked = sorted(sources, key=lambda s: (PRIORITY.index(s.fmt) if s.fmt in PRIORITY else len(PRIORITY),
                                             str(s.path)))  # fmt: skip
    return ranked[:1]
