"""The one log a run's metrics are read from, when it has several of the same numbers.

A run often has several logs (the callback's JSONL, stdout, trainer_state.json, TensorBoard). Mixing them would
let whichever file changed last decide a value (stdout rounds to four digits), so the daemon ingests, and
``rankinv explain`` reads, the first by the format registry's priority (:mod:`rankinv.ingest.registry`): live and
full-precision first, ``trainer_state.json`` (written only at saves) last. A log whose optional reader is not
installed here is skipped, so the run is read from its other logs.
"""

from __future__ import annotations

from rankinv.ingest import Source, registry


def unreadable(sources: list[Source]) -> list[tuple[Source, str]]:
    """Sources whose format's optional reader is not installed here, with the message saying so."""
    out = []
    for s in sources:
        why = registry.get(s.fmt).missing() if s.fmt in registry.BY_NAME else None
        if why is not None:
            out.append((s, why))
    return out


def primary_source(sources: list[Source]) -> list[Source]:
    """The one source a run's metrics are read from (as a list: empty when the run has no readable log yet)."""
    skip = {s.path for s, _ in unreadable(sources)}
    ranked = sorted((s for s in sources if s.path not in skip), key=lambda s: registry.rank(s.fmt, s.path))
    return ranked[:1]
