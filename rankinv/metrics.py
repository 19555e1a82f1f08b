"""Canonical metric names, and the per-framework aliases that map onto them.

Every reader turns a raw key (``train/entropy``, ``actor/entropy``, ``critic/score/mean``…) into one canonical
name with :func:`canonical_name`, so the monitor asks for ``entropy`` whatever wrote the log. The scheme:

- Training metrics have bare names: the module constants below (``entropy``, ``reward_mean`` …).
- Per-reward-function series: ``reward_mean/<fn>`` and ``reward_std/<fn>`` (TRL ``rewards/<fn>/mean``; older TRL
  ``rewards/<fn>``).
- Evaluation metrics are prefixed ``eval/``: ``eval/<canonical>`` (HF ``eval_entropy`` → ``eval/entropy``), and
  pass@k as ``eval/pass@10`` for an aggregate or ``eval/<source>/pass@10`` per data source. verl's
  ``val-core/<src>/acc/best@N/mean`` becomes ``eval/<src>/pass@N`` and ``…/mean@N`` becomes ``eval/<src>/pass@1``
  (best-of-N of a 0/1 accuracy is pass@N); ``score`` and ``reward``, which need not be 0/1, keep their own name
  ``eval/<src>/<metric>/best@N``, so three values at one step never collide on one pass@k name.
- A key we have no alias for is kept under its own name (with a ``train/`` prefix removed).
"""

from __future__ import annotations

import re
from functools import lru_cache

import msgspec

ENTROPY = "entropy"
REWARD_MEAN = "reward_mean"
REWARD_STD = "reward_std"
FRAC_REWARD_ZERO_STD = "frac_reward_zero_std"
KL = "kl"
COMPLETION_LENGTH_MEAN = "completion_length_mean"
CLIPPED_RATIO = "clipped_ratio"  # share of completions truncated at the maximum completion length
POLICY_CLIP_FRACTION = "policy_clip_fraction"  # share of tokens where the PPO/GRPO ratio was clipped
GRAD_NORM = "grad_norm"
LEARNING_RATE = "learning_rate"
LOSS = "loss"
EVAL_PREFIX = "eval/"

# Keys that carry the step or the wall time of a record rather than a metric.
STEP_KEYS = ("step", "global_step", "_step", "iteration", "train/global_step", "trainer/global_step")
TIME_KEYS = ("time", "timestamp", "_timestamp", "wall_time", "_runtime")


class MetricPoint(msgspec.Struct, frozen=True, gc=False):
    """One value of one canonical metric at one training step of one run.

    Immutable. A msgspec Struct rather than a frozen dataclass because readers make one per logged value (millions
    for a large log): it is built at C speed and, holding no references that could form a cycle, is never tracked
    by the garbage collector, whose passes over millions of points cost more than reading them.
    """

    run: str
    step: int
    name: str
    value: float
    time: float | None = None


# Raw key (after a ``train/`` prefix is removed) → canonical name, per framework.
TRL_ALIASES: dict[str, str] = {
    "entropy": ENTROPY,
    "reward": REWARD_MEAN,
    "reward_std": REWARD_STD,
    "frac_reward_zero_std": FRAC_REWARD_ZERO_STD,
    "kl": KL,
    "completions/mean_length": COMPLETION_LENGTH_MEAN,
    "completion_length": COMPLETION_LENGTH_MEAN,  # TRL < 0.15
    "completions/clipped_ratio": CLIPPED_RATIO,
    "clip_ratio/region_mean": POLICY_CLIP_FRACTION,
    "clip_ratio": POLICY_CLIP_FRACTION,  # TRL 0.16–0.18
    "grad_norm": GRAD_NORM,
    "learning_rate": LEARNING_RATE,
    "loss": LOSS,
}
VERL_ALIASES: dict[str, str] = {
    "actor/entropy": ENTROPY,
    "critic/score/mean": REWARD_MEAN,
    "critic/score/std": REWARD_STD,
    "actor/kl_loss": KL,
    "response_length/mean": COMPLETION_LENGTH_MEAN,
    "response_length/clip_ratio": CLIPPED_RATIO,
    "actor/pg_clipfrac": POLICY_CLIP_FRACTION,
    "actor/grad_norm": GRAD_NORM,
    "actor/lr": LEARNING_RATE,
    "actor/pg_loss": LOSS,
}
OPENRLHF_ALIASES: dict[str, str] = {  # after the ``train/`` prefix; ``reward`` and ``kl`` as in TRL
    "response_length": COMPLETION_LENGTH_MEAN,
    "actor_lr": LEARNING_RATE,
    "policy_loss": LOSS,
    "group_reward_std": REWARD_STD,  # mean within-group reward std, as TRL's reward_std
    "response_clip_ratio": CLIPPED_RATIO,  # responses cut at the generation limit
    "ppo_clip_ratio": POLICY_CLIP_FRACTION,
}
ALIASES: dict[str, str] = {**OPENRLHF_ALIASES, **VERL_ALIASES, **TRL_ALIASES}

_TRL_REWARD_FN = re.compile(r"^rewards/(?P<fn>.+?)(?:/(?P<stat>mean|std))?$")
_VERL_VAL = re.compile(r"^val-(?:core|aux)/(?P<src>.+)/(?P<metric>[^/]+)/(?P<kind>best|mean)@(?P<n>\d+)(?:/mean)?$")
_OPENRLHF_PASS = re.compile(r"^eval_(?P<ds>.+)_pass(?P<n>\d+)$")
_BINARY_METRICS = ("acc", "pass", "correct")  # 0/1 per sample: best@N of them is pass@N


@lru_cache(maxsize=65536)
def canonical_name(raw_key: str) -> str:
    """The canonical name for a raw log key; unknown keys keep their own name (cached: keys repeat every step)."""
    key = raw_key.strip().removeprefix("train/")
    if key.startswith("eval/eval_"):  # OpenRLHF's W&B logger prefixes keys that already say eval
        key = key[len("eval/") :]
    if key in ALIASES:
        return ALIASES[key]
    special = _special_name(key)
    if special is not None:
        return special
    if key.startswith("eval/"):
        return EVAL_PREFIX + canonical_name(key[len("eval/") :])
    if key.startswith("eval_"):
        return EVAL_PREFIX + canonical_name(key[len("eval_") :])
    return key


def _special_name(key: str) -> str | None:
    """Pattern-based aliases: per-function rewards, verl validation, OpenRLHF pass@n."""
    match = _TRL_REWARD_FN.match(key)
    if match:
        stat = "std" if match["stat"] == "std" else "mean"
        return f"reward_{stat}/{match['fn']}"
    match = _VERL_VAL.match(key)
    if match and match["metric"] in _BINARY_METRICS:
        k = match["n"] if match["kind"] == "best" else "1"
        return f"{EVAL_PREFIX}{match['src']}/pass@{k}"
    if match:  # a score or reward need not be 0/1 (±1, partial credit): its own name, never pass@k
        return f"{EVAL_PREFIX}{match['src']}/{match['metric']}/{match['kind']}@{match['n']}"
    match = _OPENRLHF_PASS.match(key)
    if match:
        return f"{EVAL_PREFIX}{match['ds']}/pass@{match['n']}"
    return None


RL_ONLY_PREFIXES = ("actor/", "critic/", "rollout/")  # verl logs only RL runs under these
GRPO_MARKERS = frozenset({REWARD_MEAN, FRAC_REWARD_ZERO_STD, KL, COMPLETION_LENGTH_MEAN, CLIPPED_RATIO})


def kind_from_names(names: set[str] | frozenset[str]) -> str | None:
    """GRPO when RL metrics appear, SFT when only supervised ones do, None when there is nothing to judge."""
    canonical = {canonical_name(n) for n in names}
    if canonical & GRPO_MARKERS or any(n.startswith("reward_mean/") for n in canonical):
        return "GRPO"
    if any(n.startswith(RL_ONLY_PREFIXES) for n in names):
        return "GRPO"
    if canonical & {LOSS, "mean_token_accuracy", "eval/loss"}:
        return "SFT"
    return None
