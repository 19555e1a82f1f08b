"""The typed messages that cross the store between the daemon and its readers, each with one encoder and decoder.

- :class:`Reason`: one condition behind a verdict (the daemon writes them, the TUI and scripts read them).
- :class:`Command`: what a person asked the daemon to do (the TUI writes it, the daemon reads it).
- :class:`TriageSummary`: the stage-1 numbers the ranking and the detail screen show (the daemon writes it).

Both sides import this module, so a field cannot be written under one name and read under another. Decoders
raise :class:`MessageError`, which names what was wrong, on anything malformed; the store turns that into a
well-defined fallback so that one bad row never crashes a reader. Stored JSON is plain: non-finite numbers
are null (SQLite has no NaN).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rankinv.errors import RankinvError


class MessageError(RankinvError):
    """A stored message cannot be decoded; the text says which message and what is wrong with it."""


def finite_or_none(value: float | None) -> float | None:
    """SQLite and JSON have no NaN: a non-finite number is stored as NULL."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def fmt_value(x: float) -> str:
    """A threshold-sized number: integers plain, others to two decimals, non-finite as ``n/a``."""
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.0f}" if abs(x) >= 100 or x == int(x) else f"{x:.2f}"


def fmt_pair(value: float, threshold: float) -> tuple[str, str]:
    """A condition's two sides: against a fractional threshold the value keeps its decimals too
    (``entropy drop 1.00 > 0.50``, not ``1 > 0.50``); against a whole one, each as :func:`fmt_value`
    (``step 3 < 6``, ``projected floor step 5.16 <= 15``)."""
    if math.isfinite(threshold) and threshold != int(threshold) and math.isfinite(value) and abs(value) < 100:
        return f"{value:.2f}", fmt_value(threshold)
    return fmt_value(value), fmt_value(threshold)


# -- field readers: each names the message and the field it rejects ---------------------------------------------
def _field(obj: dict[str, Any], key: str, what: str) -> Any:
    if key not in obj:
        raise MessageError(f"{what}: missing field {key!r}")
    return obj[key]


def _str(obj: dict[str, Any], key: str, what: str) -> str:
    value = _field(obj, key, what)
    if not isinstance(value, str):
        raise MessageError(f"{what}: field {key!r} must be a string, not {type(value).__name__}")
    return value


def _opt_int(obj: dict[str, Any], key: str, what: str) -> int | None:
    value = _field(obj, key, what)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise MessageError(f"{what}: field {key!r} must be an integer or null, not {type(value).__name__}")
    return value


def _opt_num(obj: dict[str, Any], key: str, what: str) -> float | None:
    value = _field(obj, key, what)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise MessageError(f"{what}: field {key!r} must be a number or null, not {type(value).__name__}")
    return None if value is None else float(value)


def _json(text: str | None, what: str) -> Any:
    if text is None:
        raise MessageError(f"{what}: nothing stored")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise MessageError(f"{what}: not valid JSON ({exc})") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MessageError(f"{what}: expected an object, got {type(value).__name__}")
    return value


# -- verdict reasons --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reason:
    """One condition checked: ``metric value op threshold`` over a step window, and how much it weighs."""

    metric: str
    value: float
    threshold: float
    op: str
    start_step: int | None
    end_step: int | None
    grade: str  # pin | kill | protect | hold | watch | info
    note: str = ""

    def render(self) -> str:
        """One line, e.g. ``entropy drop 0.64 > 0.50 (steps 10→150)``."""
        text = self.metric
        if self.op:
            value, threshold = fmt_pair(self.value, self.threshold)
            text += f" {value} {self.op} {threshold}"
        if self.start_step is not None and self.end_step is not None:
            text += f" (steps {self.start_step}→{self.end_step})"
        elif self.end_step is not None:
            text += f" (step {self.end_step})"
        return f"{text}: {self.note}" if self.note else text

    @property
    def strength(self) -> float:
        margin = abs(self.value - self.threshold) / max(abs(self.threshold), 1e-9)
        return min(0.95, 0.5 + margin) if math.isfinite(margin) else 0.5


def encode_reasons(reasons: Sequence[Reason]) -> str:
    """A JSON list, most important first; ``text`` is the daemon's rendering, for scripts (decoding ignores it)."""
    return json.dumps([
        {"metric": r.metric, "value": finite_or_none(r.value), "threshold": finite_or_none(r.threshold), "op": r.op,
         "start_step": r.start_step, "end_step": r.end_step, "grade": r.grade, "note": r.note, "text": r.render()}
        for r in reasons
    ])  # fmt: skip


def decode_reasons(text: str | None) -> tuple[Reason, ...]:
    items = _json(text, "verdict reasons")
    if not isinstance(items, list):
        raise MessageError(f"verdict reasons: expected a list, got {type(items).__name__}")
    return tuple(_reason(_object(item, f"verdict reason {i}"), f"verdict reason {i}") for i, item in enumerate(items))


def _reason(obj: dict[str, Any], what: str) -> Reason:
    value, threshold = _opt_num(obj, "value", what), _opt_num(obj, "threshold", what)
    return Reason(
        metric=_str(obj, "metric", what), value=math.nan if value is None else value,
        threshold=math.nan if threshold is None else threshold, op=_str(obj, "op", what),
        start_step=_opt_int(obj, "start_step", what), end_step=_opt_int(obj, "end_step", what),
        grade=_str(obj, "grade", what), note=_str(obj, "note", what),
    )  # fmt: skip


def unreadable_reason(error: MessageError) -> Reason:
    """What a reader shows in place of reasons that cannot be decoded: the error itself, never a crash."""
    return Reason("stored reasons unreadable", math.nan, math.nan, "", None, None, "info", str(error))


# -- commands (TUI and scripts → daemon) ------------------------------------------------------------------------
class CommandKind(str, Enum):
    ACK = "ack"  # acknowledge the latest verdict (of ``checkpoint``, or the run)
    PIN = "pin"  # pin CONTINUE: never killed until unpinned
    UNPIN = "unpin"
    ARM = "arm"  # let KILL verdicts really stop jobs (no run)
    DISARM = "disarm"
    KILL = "kill"  # a manual KILL verdict for the run
    RETRIAGE = "retriage"  # triage ``checkpoint`` (or every complete checkpoint of the run) again


WITHOUT_RUN = frozenset({CommandKind.ARM, CommandKind.DISARM})
TAKES_CHECKPOINT = frozenset({CommandKind.ACK, CommandKind.RETRIAGE})


@dataclass(frozen=True)
class Command:
    """One request for the daemon; invalid combinations are refused when the command is made."""

    kind: CommandKind
    run: str | None = None
    checkpoint: str | None = None
    verdict: int | None = None  # ack only: the verdict the person saw

    def __post_init__(self) -> None:
        if (self.run is None) != (self.kind in WITHOUT_RUN):
            need = "takes no run" if self.kind in WITHOUT_RUN else "needs a run"
            raise MessageError(f"command {self.kind.value}: {need}")
        if self.checkpoint is not None and self.kind not in TAKES_CHECKPOINT:
            raise MessageError(f"command {self.kind.value}: takes no checkpoint")
        if self.verdict is not None and self.kind is not CommandKind.ACK:
            raise MessageError(f"command {self.kind.value}: takes no verdict")

    def describe(self) -> str:
        return " ".join(x for x in (self.kind.value, self.run or "", self.checkpoint or "") if x)


def encode_command(command: Command) -> tuple[str, str | None, str | None]:
    """The ``commands`` row's (kind, run, args): args is a JSON object of the optional fields that are set."""
    args = {k: v for k, v in (("checkpoint", command.checkpoint), ("verdict", command.verdict)) if v is not None}
    return command.kind.value, command.run, json.dumps(args, sort_keys=True) if args else None


def decode_command(kind: str, run: str | None, args: str | None) -> Command:
    """Keys other than ``checkpoint`` and ``verdict`` are ignored (older writers added some; nothing reads them)."""
    try:
        known = CommandKind(kind)
    except ValueError:
        raise MessageError(f"unknown command {kind!r}; known: {', '.join(k.value for k in CommandKind)}") from None
    what = f"command {kind}"
    extra = {} if args is None else _object(_json(args, what), what)
    checkpoint = extra.get("checkpoint")
    if checkpoint is not None and not isinstance(checkpoint, str):
        raise MessageError(f"{what}: field 'checkpoint' must be a string or null")
    verdict = _opt_int({"verdict": extra.get("verdict")}, "verdict", what)
    return Command(known, run, checkpoint, verdict)


# -- triage summaries (daemon → readers) ------------------------------------------------------------------------
@dataclass(frozen=True)
class TriageSummary:
    """The headline numbers of one stage-1 report; None where the report did not measure it."""

    flagged: bool
    entropy_basis: str  # which entropy the stage-1 flag read
    flag_messages: tuple[str, ...]
    group_size: int
    p_star: float
    entropy: float | None  # the entropy the ranking shows: the flag's basis, else probe, token mean, Monte-Carlo
    pass1: float | None
    headroom: float | None
    expected_variance: float | None
    degenerate_fraction: float | None
    never_solved_fraction: float | None
    entropy_token_mean: float | None
    entropy_probe: float | None
    pass_at_k: tuple[tuple[int, float], ...]  # (k, pass@k), k ascending
    pass_rates: tuple[float, ...]  # per prompt


_SUMMARY_NUMBERS = ("entropy", "pass1", "headroom", "expected_variance", "degenerate_fraction",
                    "never_solved_fraction", "entropy_token_mean", "entropy_probe")  # fmt: skip


def encode_triage_summary(s: TriageSummary) -> str:
    out: dict[str, Any] = {name: finite_or_none(getattr(s, name)) for name in _SUMMARY_NUMBERS}
    out.update(flagged=s.flagged, entropy_basis=s.entropy_basis, flag_messages=list(s.flag_messages),
               group_size=s.group_size, p_star=finite_or_none(s.p_star),
               pass_at_k=[[k, finite_or_none(v)] for k, v in s.pass_at_k],
               pass_rates=[finite_or_none(p) for p in s.pass_rates])  # fmt: skip
    return json.dumps(out, sort_keys=True)


def decode_triage_summary(text: str | None) -> TriageSummary:
    what = "triage summary"
    obj = _object(_json(text, what), what)
    flagged, group_size = _field(obj, "flagged", what), _opt_int(obj, "group_size", what)
    messages, curve, rates = (_field(obj, k, what) for k in ("flag_messages", "pass_at_k", "pass_rates"))
    if not isinstance(flagged, bool) or group_size is None:
        raise MessageError(f"{what}: 'flagged' must be true/false and 'group_size' an integer")
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        raise MessageError(f"{what}: 'flag_messages' must be a list of strings")
    p_star = _opt_num(obj, "p_star", what)
    return TriageSummary(
        flagged=flagged, entropy_basis=_str(obj, "entropy_basis", what), flag_messages=tuple(messages),
        group_size=group_size, p_star=math.nan if p_star is None else p_star,
        pass_at_k=_pairs(curve, what), pass_rates=_numbers(rates, what),
        **{name: _opt_num(obj, name, what) for name in _SUMMARY_NUMBERS},
    )  # fmt: skip


def _numbers(values: Any, what: str) -> tuple[float, ...]:
    if not isinstance(values, list):
        raise MessageError(f"{what}: 'pass_rates' must be a list")
    out = [_opt_num({"p": v}, "p", what) for v in values]
    return tuple(v for v in out if v is not None)


def _pairs(values: Any, what: str) -> tuple[tuple[int, float], ...]:
    if not isinstance(values, list) or not all(isinstance(p, list) and len(p) == 2 for p in values):
        raise MessageError(f"{what}: 'pass_at_k' must be a list of [k, value] pairs")
    pairs = [(_opt_int({"k": k}, "k", what), _opt_num({"v": v}, "v", what)) for k, v in values]
    return tuple((k, v) for k, v in pairs if k is not None and v is not None)
