"""Which runs a full pass over the root may leave as they are: judged already, on their current data, by the
same rules and the same fitted history.

A full pass (the daemon starting, ``rankinv status`` without a daemon) re-inspects every run; judging each again
would cost most of the pass and change nothing. A run is left alone when all of these hold:

- the store's fingerprint of the last full judgement (``judged_with`` in the health table: rankinv's version,
  the ``[triage]``, ``[monitor]``, ``[verdict]`` and ``[predict]`` settings, the fitted history's runs and
  outcomes) equals the current one, and no triage report arrived in this pass;
- its monitor row was written after every ingest of its logs (offsets' ``updated_at``), so no point came after
  its last judgement, and its latest verdict was made with its current pin;
- the pass found its record (kind, parent, manifest, status) unchanged.

Anything else is judged as before, and a full judgement stores the new fingerprint.
"""

from __future__ import annotations

import hashlib

from rankinv import __version__
from rankinv.config import Config
from rankinv.store import RunRecord

KEY = "judged_with"
PIN_REASON = "pinned CONTINUE by user"  # the reason every verdict of a pinned run carries


def fingerprint(config: Config, history_key: object) -> str:
    """What every judgement depends on besides the run's own data."""
    text = repr((__version__, config.triage, config.monitor, config.verdict, config.predict, history_key))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def same_record(old: RunRecord | None, recorded: tuple[object, ...]) -> bool:
    """Whether re-inspecting the run left what a judgement reads of its record (``recorded``: kind, parent,
    manifest, status as just written) unchanged."""
    return old is not None and (old.kind, old.parent, old.manifest, old.status) == recorded


