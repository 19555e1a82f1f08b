"""The stage-1 triage report: a versioned, frozen record written as ``rankinv-triage.json`` next to the checkpoint.

Schema (version 1). Every headline number is an interval object
``{"estimate", "lo", "hi", "confidence"}``: a percentile bootstrap over prompts (2,000 resamples).

- ``schema_version`` (int), ``kind`` ("rankinv.triage"), ``checkpoint`` (absolute path), ``base_model``
  (LoRA base or null), ``created_at`` (UTC ISO 8601), ``rankinv_version``.
- ``sampling``: ``backend``, ``samples`` (n per prompt), ``temperature``, ``top_p``, ``top_k`` (0 = off),
  ``repetition_penalty``, ``max_new_tokens``, ``seed``, ``chat_template``, ``reward``, ``prompt_set``, ``prompts``.
- ``group_size`` (g) and ``p_star`` (p*(g), the pass rate at which half the groups are degenerate).
- ``metrics``:
  ``pass_at_1``; ``pass_at_k`` ({"k": interval} for k <= n);
  ``expected_advantage_variance`` (p(1-p)(g-1)/g, unbiased per prompt, mean over prompts);
  ``expected_scaled_variance`` (the same under TRL's per-group std scaling);
  ``degenerate_fraction`` (expected share of groups of g with identical rewards: predicts TRL's
  ``frac_reward_zero_std``; unbiased per prompt when n >= g, the plug-in p^g + (1-p)^g otherwise);
  ``fraction_below_p_star``; ``never_solved_fraction`` (c = 0 of n);
  ``headroom`` (mean pass rate / p*(g)); ``truncation_rate`` (rollouts that hit max_new_tokens);
  ``entropy_token_mean`` (exact entropy of the sampling distribution per generated token, a ratio of
  sums over all tokens; null on vLLM); ``entropy_per_sequence`` (mean of per-rollout token means; null on
  vLLM); ``entropy_monte_carlo`` (mean surprisal -log p of the sampled tokens, ratio of sums);
  ``entropy_probe`` (the paper's: teacher-forced next-token entropy over prompt tokens; null on vLLM).
  Entropies are in nats at the sampling temperature.
- ``flag``: ``flagged`` (bool), ``entropy_basis`` (which entropy the tau_h test read), ``reasons`` (list of
  ``{metric, value, threshold, comparison, message}``).
- ``timing``: ``load_s``, ``sample_s``, ``score_s``, ``probe_s``, ``total_s``, ``generated_tokens``, ``tokens_per_s``.
- ``prompts``: per prompt ``id``, ``passes`` (c), ``samples`` (n), ``pass_rate``, ``truncated``, ``tokens``,
  ``statuses`` ({pass, fail, timeout, oom: count}), ``entropy_exact_sum`` / ``entropy_mc_sum`` (sums over
  the prompt's generated tokens), ``entropy_sequence_mean``, ``probe_tokens``, ``entropy_probe_sum``.
- ``sft`` (optional, null when the checkpoint's ``trainer_state.json`` logged no ``eval_loss``): ``eval_loss``
  (the last logged at the checkpoint), ``eval_loss_min`` (the lowest logged up to it), ``points``, ``step``.
"""

from __future__ import annotations

import dataclasses
import json
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from rankinv.boundary.atomic import write_atomic
from rankinv.boundary.files import UnsafeFile, read_bytes
from rankinv.errors import RankinvError
from rankinv.sftlog import SftLog
from rankinv.stats import Interval

SCHEMA_VERSION = 1
REPORT_FILENAME = "rankinv-triage.json"
KIND = "rankinv.triage"
REPORT_BYTES = 64 << 20


@dataclass(frozen=True)
class PromptResult:
    id: str
    passes: int
    samples: int
    pass_rate: float
    truncated: int
    tokens: int
    statuses: dict[str, int] = field(default_factory=dict)
    entropy_exact_sum: float | None = None
    entropy_mc_sum: float = 0.0
    entropy_sequence_mean: float | None = None
    probe_tokens: int = 0
    entropy_probe_sum: float | None = None


@dataclass(frozen=True)
class Metrics:
    pass_at_1: Interval
    pass_at_k: dict[str, Interval]
    expected_advantage_variance: Interval
    expected_scaled_variance: Interval
    degenerate_fraction: Interval
    fraction_below_p_star: Interval
    never_solved_fraction: Interval
    headroom: Interval
    truncation_rate: Interval
    entropy_token_mean: Interval | None
    entropy_per_sequence: Interval | None
    entropy_monte_carlo: Interval
    entropy_probe: Interval | None


@dataclass(frozen=True)
class FlagReason:
    metric: str
    value: float
    threshold: float
    comparison: str
    message: str


@dataclass(frozen=True)
class Flag:
    flagged: bool
    entropy_basis: str
    reasons: tuple[FlagReason, ...] = ()


@dataclass(frozen=True)
class Sampling:
    backend: str
    samples: int
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    max_new_tokens: int
    seed: int
    chat_template: bool
    reward: str
    prompt_set: str
    prompts: int


@dataclass(frozen=True)
class Timing:
    load_s: float
    sample_s: float
    score_s: float
    probe_s: float
    total_s: float
    generated_tokens: int
    tokens_per_s: float


@dataclass(frozen=True)
class TriageReport:
    checkpoint: str
    base_model: str | None
    created_at: str
    rankinv_version: str
    sampling: Sampling
    group_size: int
    p_star: float
    metrics: Metrics
    flag: Flag
    timing: Timing
    prompts: tuple[PromptResult, ...]
    sft: SftLog | None = None
    """The SFT run's held-out loss at this checkpoint, from its trainer_state.json (None: none logged)."""
    schema_version: int = SCHEMA_VERSION
    kind: str = KIND

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, allow_nan=True)

    @classmethod
    def from_json(cls, text: str, source: str = "triage report") -> TriageReport:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RankinvError(f"{source}: not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise RankinvError(f"{source}: not a rankinv triage report")
        if int(data.get("schema_version", 0)) > SCHEMA_VERSION:
            raise RankinvError(f"{source}: schema version {data['schema_version']} is newer than this rankinv "
                               f"understands ({SCHEMA_VERSION}); upgrade rankinv")
        try:
            report: TriageReport = _build(cls, data)
        except (KeyError, TypeError, ValueError) as exc:
            raise RankinvError(f"{source}: malformed triage report ({exc})") from None
        return report

    def write(self, path: str | Path) -> Path:
        """Write atomically (readers never see half a file), never through a symlink planted at ``path``."""
        return write_atomic(path, self.to_json())


def read_report(path: str | Path) -> TriageReport:
    p = Path(path)
    if p.is_dir():
        p = p / REPORT_FILENAME
    try:
        text = read_bytes(p, REPORT_BYTES).decode("utf-8", errors="replace")
    except UnsafeFile as exc:
        raise RankinvError(f"cannot read triage report: {exc}") from None
    except OSError as exc:
        raise RankinvError(f"{p}: cannot read triage report: {exc.strerror}") from None
    return TriageReport.from_json(text, str(p))


def _build(tp: Any, value: Any) -> Any:
    """Rebuild a value of annotated type ``tp`` from its JSON form (dataclasses, optionals, tuples, dicts)."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        return _build(next(a for a in get_args(tp) if a is not type(None)), value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {tp.__name__}, got {value!r:.40}")
        hints = get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: _build(hints[k], v) for k, v in value.items() if k in names})
    if origin is tuple:
        return tuple(_build(get_args(tp)[0], v) for v in value)
    if origin is dict:
        return {str(k): _build(get_args(tp)[1], v) for k, v in value.items()}
    if tp is float:
        return float(value)
    return value
