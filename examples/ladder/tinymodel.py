"""Tiny language models on a CPU, no network: a locally trained tokenizer, a random Qwen2, TRL SFT and GRPO.

Everything real (transformers, TRL's ``SFTTrainer`` and ``GRPOTrainer``); only the sizes are small. Heavy imports
stay inside the functions.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

SPECIALS = ("<pad>", "<eos>", "<unk>")
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_DISABLED": "true"}


def train_tokenizer(corpus: Sequence[str], out_dir: str | Path | None = None, vocab_size: int = 320) -> Any:
    """A byte-level BPE tokenizer (Qwen2's kind) trained on ``corpus`` locally, as a transformers tokenizer.

    Byte-level BPE matters: transformers maps a Qwen2 checkpoint's tokenizer to its BPE class on load, so a
    word-level model would be silently converted and break.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(corpus) * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>",
                                   padding_side="left")
    if out_dir is not None:
        fast.save_pretrained(str(out_dir))
    return fast


def tiny_model(tokenizer: Any, *, hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0) -> Any:
    """A randomly initialised Qwen2 causal LM sized for the tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def save_base(out_dir: str | Path, corpus: Sequence[str], seed: int = 0, **model_kwargs: Any) -> Path:
    """Write an untrained tiny model and its tokenizer to ``out_dir``; returns the directory."""
    out = Path(out_dir)
    tok = train_tokenizer(corpus, out)
    tiny_model(tok, seed=seed, **model_kwargs).save_pretrained(str(out))
    return out


def quiet_output() -> None:
    """No progress bars or deprecation chatter from transformers/datasets, so the ladder's own lines stand out."""
    import warnings

    import datasets
    from transformers.utils import logging

    datasets.disable_progress_bars()
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="trl|transformers")


@contextlib.contextmanager
def quiet_env() -> Iterator[None]:
    """Offline settings for transformers/TRL on a CPU; restored afterwards."""
    saved = {k: os.environ.get(k) for k in OFFLINE}
    os.environ.update(OFFLINE)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def save_at(steps: Sequence[int], evaluate: bool = False) -> Any:
    """A TrainerCallback that saves a ``checkpoint-N`` exactly at each of ``steps`` (the SFT depths), evaluating
    first when there is held-out data, so each checkpoint's ``trainer_state.json`` ends with its ``eval_loss``."""
    from transformers import TrainerCallback

    wanted = set(steps)

    class SaveAt(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            control.should_save = state.global_step in wanted
            control.should_evaluate = control.should_evaluate or (evaluate and state.global_step in wanted)
            return control

    return SaveAt()


def _load(model_dir: str | Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(str(model_dir)), AutoTokenizer.from_pretrained(str(model_dir))


def sft(model_dir: str | Path, rows: Sequence[dict[str, str]], out_dir: str | Path, *, steps: Sequence[int],
        learning_rate: float, batch_size: int, seed: int = 0,
        eval_rows: Sequence[dict[str, str]] = ()) -> dict[int, Path]:
    """One TRL SFT run of ``max(steps)`` optimiser steps (linear decay), saving a checkpoint at each step in
    ``steps``; returns {step: checkpoint directory}. With ``eval_rows`` the run logs ``eval_loss`` on them every
    ``logging_steps`` and at every saved step (the generalization loss Kang et al. 2025 read)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    with quiet_env():
        model, tok = _load(model_dir)
        args = SFTConfig(
            output_dir=str(out_dir), max_steps=max(steps), learning_rate=learning_rate,
            per_device_train_batch_size=batch_size, logging_steps=10, save_strategy="no", report_to=[],
            use_cpu=True, seed=seed, max_length=32, completion_only_loss=True, disable_tqdm=True,
            dataloader_num_workers=0, eval_strategy="steps" if eval_rows else "no", eval_steps=10,
        )
        held_out = Dataset.from_list(list(eval_rows)) if eval_rows else None
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(list(rows)),
                             eval_dataset=held_out, processing_class=tok, callbacks=[save_at(steps, bool(eval_rows))])
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.train()
    return {s: Path(out_dir) / f"checkpoint-{s}" for s in sorted(steps)}


def grpo(model_dir: str | Path, prompts: Sequence[str], reward_funcs: Sequence[Callable[..., list[float]]],
         out_dir: str | Path, *, callbacks: Sequence[Any] = (), **config: Any) -> Path:
    """Run TRL's GRPOTrainer on the CPU (T=1, every step logged) and save the final model to ``out_dir/final``."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    settings: dict[str, Any] = {
        "output_dir": str(out_dir), "temperature": 1.0, "logging_steps": 1, "save_strategy": "no",
        "report_to": [], "use_cpu": True, "beta": 0.0, "disable_tqdm": True, "dataloader_num_workers": 0, **config,
    }
    with quiet_env():
        model, tok = _load(model_dir)
        trainer = GRPOTrainer(model=model, reward_funcs=list(reward_funcs), args=GRPOConfig(**settings),
                              train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
                              processing_class=tok, callbacks=list(callbacks))
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.train()
        final = Path(out_dir) / "final"
        trainer.save_model(str(final))
        tok.save_pretrained(str(final))
    return final
