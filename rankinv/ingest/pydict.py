"""HF/TRL stdout: the Python-dict lines ``Trainer`` prints on every log call.

Lines look like ``{'loss': 0.12, 'entropy': '2.759', 'epoch': 0.5}`` (transformers 5 formats floats as quoted
strings), possibly indented, prefixed, or sharing a physical line with ``\\r``-redrawn tqdm bars. Only a Trainer
log dict counts (:func:`is_trainer_log`: flat, every value a number, and a key the Trainer logs), never a printed
dataset row or config dump. They are read with
:func:`ast.literal_eval` (literals only: nothing is executed), after rewriting the non-literal values some
loggers print (``nan``, ``inf``, ``np.float64(0.5)``, ``tensor(0.5)``) into literals. The common line — a flat
dict of quoted keys and numbers or quoted strings, nothing to rewrite — is read by one regular expression instead
(:mod:`rankinv.ingest.flatdict`), which gives the same mapping.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from rankinv.ingest import flatdict
from rankinv.ingest.values import Record, last_of_redraws, record_from_mapping, to_float
from rankinv.metrics import STEP_KEYS

_WRAPPED = re.compile(
    r"\b(?:np\.|numpy\.)?(?:float|int|uint)(?:16|32|64)?\((?P<v>[^()]*)\)|\btensor\((?P<t>[^(),]*)[^()]*\)"
)
_BARE = re.compile(r"(?<![\w'\".])(?P<v>-?inf|nan|NaN|-?Infinity)(?![\w'\"])")
_PARSE_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


def _dict_text(segment: str) -> str | None:
    """From the first ``{'`` or ``{"`` to the last ``}``: where a printed dict is, if anywhere."""
    start = min((i for i in (segment.find("{'"), segment.find('{"')) if i >= 0), default=-1)
    end = segment.rfind("}")
    return segment[start : end + 1] if 0 <= start <= end else None


def _literal_source(text: str) -> str:
    text = _WRAPPED.sub(lambda m: m["v"] if m["v"] is not None else m["t"], text)
    return _BARE.sub(lambda m: repr(m["v"]), text)


def _needs_rewrite(text: str) -> bool:
    """Would :func:`_literal_source` change the text? (cheap substring tests first: it almost never would)"""
    if "(" in text and _WRAPPED.search(text):
        return True
    return ("nan" in text or "NaN" in text or "inf" in text or "Inf" in text) and _BARE.search(text) is not None


_METRIC_KEYS = frozenset(
    {"loss", "grad_norm", "reward", "reward_std", "entropy", "kl", "frac_reward_zero_std", "train_runtime",
     "mean_token_accuracy", *STEP_KEYS}
)  # fmt: skip
_METRIC_PREFIXES = ("eval_", "rewards/", "completions/", "train/")


def is_trainer_log(raw: dict[str, Any], *, flat: bool = False) -> bool:
    """A dict a trainer logged: flat, with a metric key the Trainer logs (or only numbers and ``epoch``).

    A printed dataset row has no such key; a config dump is nested or holds text beside its ``epoch``.
    ``flat``: the caller knows no value is a container.
    """
    if not raw or (not flat and any(isinstance(v, dict | list | tuple | set) for v in raw.values())):
        return False
    if any(k in _METRIC_KEYS or k.startswith(_METRIC_PREFIXES) for k in raw):
        return True
    return "epoch" in raw and all(v is None or to_float(v) is not None for v in raw.values())


def parse_segment(segment: str) -> Record | None:
    """The Trainer log dict in one ``\\r``-separated segment of a line, or None."""
    raw, flat = printed_dict(segment)
    return record_from_mapping(raw) if raw is not None and is_trainer_log(raw, flat=flat) else None


def printed_dict(segment: str) -> tuple[dict[str, Any] | None, bool]:
    """The dict printed in ``segment`` as :func:`literal_dict` reads it, by one regular expression when it is a
    plain flat dict (:mod:`rankinv.ingest.flatdict`); and whether that was so (then no value is a container)."""
    text = _dict_text(segment)
    if text is None:
        return None, False
    raw = flatdict.parse(text) if not _needs_rewrite(text) else None
    return (raw, True) if raw is not None else (literal_dict(segment), False)


def literal_dict(segment: str) -> dict[str, Any] | None:
    """The Python dict literal printed in ``segment`` (literals only: nothing is executed), or None: read by
    :func:`ast.literal_eval` after the rewrites (the general, slower path)."""
    text = _dict_text(segment)
    if text is None:
        return None
    try:
        value = ast.literal_eval(_literal_source(text))
    except _PARSE_ERRORS:
        return None
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else None


def parse_line(line: str) -> Record | None:
    """The last Trainer log dict on the line (after the final tqdm redraw), or None."""
    return last_of_redraws(line, parse_segment)
