"""Tiny language models for tests: real transformers/TRL code paths, seconds on a CPU, no network.

- :func:`train_tokenizer` trains a word-level tokenizer locally with ``tokenizers``.
- :func:`tiny_model` builds a randomly initialised Qwen2 causal LM from a config.
- :func:`sft` fine-tunes with TRL's ``SFTTrainer`` (prompt/completion data, completion-only loss) and saves
  real ``checkpoint-N`` directories.
- :func:`run_grpo` runs TRL's ``GRPOTrainer`` on the CPU in-process; :func:`run_grpo_subprocess` runs it as a
  real training job (``python -m tests.support.grpo_job``) whose stdout goes to ``<out>/train.log``, as on a
  cluster.

The toy task (:class:`ToyTask`) is about digits written in words, so a completion is verifiable:
``"after three comes"`` → ``"four"``; ``"a number bigger than three is"`` → any of four … nine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The tokenizer, model and offline helpers live with the ladder example (examples must not import tests).
from examples.ladder.tinymodel import quiet_env as _quiet_env
from examples.ladder.tinymodel import tiny_model, train_tokenizer

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ToyTask:
    """Digit tasks in words with a verifiable answer; each prompt depends on one number so tiny models learn it.

    - ``"after X comes"``: exactly one right answer, X+1 (mod 10).
    - ``"a number bigger than X is"``: any digit above X is right; SFT data always shows the canonical X+1,
      so long SFT collapses many valid answers onto one (what rank inversion needs).
    """

    numbers: tuple[int, ...] = tuple(range(9))

    @staticmethod
    def after(x: int) -> str:
        return f"after {DIGITS[x]} comes"

    @staticmethod
    def bigger(x: int) -> str:
        return f"a number bigger than {DIGITS[x]} is"

    def prompts(self) -> list[str]:
        return [self.after(x) for x in self.numbers] + [self.bigger(x) for x in self.numbers]

    def answers(self) -> dict[str, str]:
        """The canonical (SFT) answer of each prompt."""
        return {p: DIGITS[(x + 1) % 10] for x in self.numbers for p in (self.after(x), self.bigger(x))}

    def valid(self) -> dict[str, frozenset[str]]:
        """Every answer the reward accepts, per prompt."""
        out = {self.after(x): frozenset({DIGITS[(x + 1) % 10]}) for x in self.numbers}
        out.update({self.bigger(x): frozenset(DIGITS[x + 1 :]) for x in self.numbers})
        return out

    def sft_rows(self) -> list[dict[str, str]]:
        return [{"prompt": p, "completion": " " + a} for p, a in self.answers().items()]

    def corpus(self) -> list[str]:
        return [*self.prompts(), " ".join(DIGITS)]


def task_reward(task: ToyTask | None = None) -> Callable[..., list[float]]:
    """A TRL reward function: 1.0 when the completion's first word is a valid answer to the prompt."""
    valid = (task or ToyTask()).valid()

    def reward(prompts: Sequence[str], completions: Sequence[str], **_: Any) -> list[float]:
        out = []
        for prompt, completion in zip(prompts, completions, strict=True):
            words = completion.split()
            out.append(1.0 if words and words[0] in valid.get(prompt.strip(), frozenset()) else 0.0)
        return out

    reward.__name__ = "valid_answer"
    return reward


def save_base(out_dir: str | Path, task: ToyTask | None = None, seed: int = 0, **model_kwargs: Any) -> Path:
    """Write an untrained tiny model and its tokenizer to ``out_dir``; returns the directory."""
    task = task or ToyTask()
    out = Path(out_dir)
    tok = train_tokenizer(task.corpus(), out)
    tiny_model(tok, seed=seed, **model_kwargs).save_pretrained(str(out))
    return out


def sft(
    model_dir: str | Path,
    rows: Sequence[dict[str, str]],
    out_dir: str | Path,
    *,
    epochs: float = 1.0,
    learning_rate: float = 1e-2,
    batch_size: int = 16,
    save_steps: int | None = None,
    seed: int = 0,
    callbacks: Sequence[Any] = (),
) -> Path:
    """Supervised fine-tuning with TRL's SFTTrainer; checkpoints every ``save_steps`` and a final save."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    with _quiet_env():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForCausalLM.from_pretrained(str(model_dir))
        args = SFTConfig(
            output_dir=str(out_dir),
            num_train_epochs=epochs,
            learning_rate=learning_rate,
            per_device_train_batch_size=batch_size,
            logging_steps=1,
            save_strategy="steps" if save_steps else "no",
            save_steps=save_steps or 500,
            report_to=[],
            use_cpu=True,
            seed=seed,
            max_length=32,
            completion_only_loss=True,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=Dataset.from_list(list(rows)), processing_class=tok,
            callbacks=list(callbacks),
        )
        trainer.train()
        trainer.save_model(str(out_dir))
        tok.save_pretrained(str(out_dir))
    return Path(out_dir)


def grpo_config(out_dir: str | Path, **overrides: Any) -> Any:
    """A GRPOConfig for tiny CPU runs: log every step, group size 4, short completions."""
    from trl import GRPOConfig

    settings: dict[str, Any] = {
        "output_dir": str(out_dir),
        "max_steps": 8,
        "learning_rate": 1e-3,
        "per_device_train_batch_size": 8,
        "num_generations": 4,
        "max_completion_length": 4,
        "temperature": 1.0,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": True,
        "seed": 0,
        "beta": 0.0,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }
    settings.update(overrides)
    return GRPOConfig(**settings)


def run_grpo(
    model_dir: str | Path,
    prompts: Sequence[str],
    reward_funcs: Sequence[Callable[..., list[float]]],
    out_dir: str | Path,
    *,
    callbacks: Sequence[Any] = (),
    **config: Any,
) -> tuple[Any, str]:
    """Run GRPOTrainer in-process; returns (trainer, captured stdout)."""
    from datasets import Dataset
    from trl import GRPOTrainer

    with _quiet_env():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForCausalLM.from_pretrained(str(model_dir))
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=list(reward_funcs),
            args=grpo_config(out_dir, **config),
            train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
            processing_class=tok,
            callbacks=list(callbacks),
        )
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            trainer.train()
    return trainer, buffer.getvalue()


def run_grpo_subprocess(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    task: str = "toy",
    callback: bool = True,
    env: dict[str, str] | None = None,
    wait: bool = True,
    **config: Any,
) -> subprocess.Popen[bytes]:
    """Start ``python -m tests.support.grpo_job`` as a real training process; stdout+stderr to ``out/train.log``.

    ``config`` goes to GRPOConfig (JSON-serialisable values only). With ``wait`` the call blocks until the job
    ends and raises if it failed, showing the log tail.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = {"model_dir": str(model_dir), "out_dir": str(out), "task": task, "callback": callback, "config": config}
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    log = (out / "train.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.grpo_job", json.dumps(spec)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=full_env,
        cwd=str(out),
    )
    log.close()
    if wait:
        code = proc.wait(timeout=600)
        if code != 0:
            tail = (out / "train.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"GRPO job failed with exit code {code}:\n{tail}")
    return proc


# --- Triage helpers: rewards and prompt sets for stage-1 tests --------------------------------------------------------


def valid_answer_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """:func:`task_reward` for the default :class:`ToyTask` as a plain module-level function, so it can be named
    as ``tests/support/tinylm.py:valid_answer_reward`` (rankinv triage's ``module:function`` reward). Accepts TRL's
    conversational form too (a list of messages per prompt and completion), as chat-template runs pass it."""
    text = [m[-1]["content"] if isinstance(m, list) else m for m in prompts]
    return task_reward()(text, [m[-1]["content"] if isinstance(m, list) else m for m in completions], **kwargs)


def write_prompts_jsonl(path: str | Path, task: ToyTask | None = None) -> Path:
    """The task's prompts as a triage prompt set: id, prompt and the canonical answer."""
    task = task or ToyTask()
    lines = [json.dumps({"id": f"p{i}", "prompt": p, "answer": a}) for i, (p, a) in enumerate(task.answers().items())]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def sampled_passes(
    model_dir: str | Path, prompts: Sequence[str], reward: Callable[..., list[float]], n: int = 16, seed: int = 123
) -> list[int]:
    """Passes per prompt out of ``n`` samples of a saved model at T=1, scored by ``reward``.

    An oracle for tests that is independent of rankinv's log reading: it samples the model itself.
    """
    import torch

    with _quiet_env():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    torch.manual_seed(seed)
    passes = []
    for prompt in prompts:
        ids = tok([prompt] * n, return_tensors="pt")
        out = model.generate(**ids, do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=4,
                             pad_token_id=tok.pad_token_id or 0)
        completions = tok.batch_decode(out[:, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        passes.append(int(sum(reward([prompt] * n, completions))))
    return passes


def sampled_pass_at(
    model_dir: str | Path, prompts: Sequence[str], reward: Callable[..., list[float]], n: int = 16, seed: int = 123
) -> dict[int, float]:
    """Mean unbiased pass@1 and pass@10 of :func:`sampled_passes`."""
    from rankinv.passk import mean_pass_at_k

    passes = sampled_passes(model_dir, prompts, reward, n, seed)
    return {k: mean_pass_at_k([n] * len(prompts), passes, k) for k in (1, 10)}
