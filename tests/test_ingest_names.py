"""Canonical metric names: every framework's key for the same quantity maps to one name; unknown keys survive."""

from __future__ import annotations

import pytest

from rankinv import metrics as m
from rankinv.metrics import MetricPoint, canonical_name, kind_from_names


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        # TRL 1.x
        ("entropy", m.ENTROPY),
        ("reward", m.REWARD_MEAN),
        ("reward_std", m.REWARD_STD),
        ("frac_reward_zero_std", m.FRAC_REWARD_ZERO_STD),
        ("kl", m.KL),
        ("completions/mean_length", m.COMPLETION_LENGTH_MEAN),
        ("completions/clipped_ratio", m.CLIPPED_RATIO),
        ("clip_ratio/region_mean", m.POLICY_CLIP_FRACTION),
        ("grad_norm", m.GRAD_NORM),
        ("learning_rate", m.LEARNING_RATE),
        ("rewards/valid_answer/mean", "reward_mean/valid_answer"),
        ("rewards/valid_answer/std", "reward_std/valid_answer"),
        # older TRL
        ("completion_length", m.COMPLETION_LENGTH_MEAN),
        ("rewards/accuracy_reward", "reward_mean/accuracy_reward"),
        # HF TensorBoard / W&B prefixes
        ("train/entropy", m.ENTROPY),
        ("train/reward", m.REWARD_MEAN),
        ("eval/entropy", "eval/entropy"),
        ("eval_reward", "eval/reward_mean"),
        ("eval_loss", "eval/loss"),
        # verl
        ("actor/entropy", m.ENTROPY),
        ("critic/score/mean", m.REWARD_MEAN),
        ("response_length/mean", m.COMPLETION_LENGTH_MEAN),
        ("response_length/clip_ratio", m.CLIPPED_RATIO),
        ("actor/kl_loss", m.KL),
        ("actor/grad_norm", m.GRAD_NORM),
        ("actor/lr", m.LEARNING_RATE),
        ("val-core/openai/gsm8k/acc/best@8/mean", "eval/openai/gsm8k/pass@8"),
        ("val-core/openai/gsm8k/acc/mean@16", "eval/openai/gsm8k/pass@1"),
        ("val-core/openai/gsm8k/reward/mean@16", "eval/openai/gsm8k/reward/mean@16"),  # not 0/1: not pass@k
        ("val-core/openai/gsm8k/score/best@8/mean", "eval/openai/gsm8k/score/best@8"),
        # OpenRLHF
        ("train/kl", m.KL),
        ("train/response_length", m.COMPLETION_LENGTH_MEAN),
        ("eval_gsm8k_pass8", "eval/gsm8k/pass@8"),
        ("eval/eval_gsm8k_pass8", "eval/gsm8k/pass@8"),  # as its W&B logger writes it
        ("train/group_reward_std", m.REWARD_STD),
        ("train/response_clip_ratio", m.CLIPPED_RATIO),
        ("train/ppo_clip_ratio", m.POLICY_CLIP_FRACTION),
    ],
)
def test_aliases(raw: str, canonical: str) -> None:
    assert canonical_name(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["step_time", "num_tokens", "timing_s/gen", "critic/score/max", "val-core/openai/gsm8k/acc/best@8/std"]
)
def test_unknown_keys_keep_their_name(raw: str) -> None:
    assert canonical_name(raw) == raw


def test_verl_acc_score_and_reward_at_one_step_keep_three_names() -> None:
    keys = [f"val-core/math/{v}/best@4/mean" for v in ("acc", "score", "reward")]
    assert len({canonical_name(k) for k in keys}) == 3


def test_train_summary_loss_is_not_the_step_loss() -> None:
    assert canonical_name("train_loss") == "train_loss"
    assert canonical_name("loss") == m.LOSS


def test_constants_are_the_documented_strings() -> None:
    assert (m.ENTROPY, m.REWARD_MEAN, m.REWARD_STD, m.FRAC_REWARD_ZERO_STD, m.KL) == (
        "entropy", "reward_mean", "reward_std", "frac_reward_zero_std", "kl",
    )
    assert (m.COMPLETION_LENGTH_MEAN, m.CLIPPED_RATIO, m.GRAD_NORM, m.LEARNING_RATE) == (
        "completion_length_mean", "clipped_ratio", "grad_norm", "learning_rate",
    )


def test_metric_point_is_immutable() -> None:
    point = MetricPoint("r", 1, "entropy", 0.5, None)
    with pytest.raises(AttributeError):
        point.value = 1.0  # type: ignore[misc]
    assert point == MetricPoint("r", 1, "entropy", 0.5) and point.time is None


def test_kind_from_names() -> None:
    assert kind_from_names({"loss", "entropy", "reward", "frac_reward_zero_std"}) == "GRPO"
    assert kind_from_names({"actor/entropy", "critic/score/mean"}) == "GRPO"
    assert kind_from_names({"loss", "mean_token_accuracy", "learning_rate"}) == "SFT"
    assert kind_from_names({"epoch"}) is None
