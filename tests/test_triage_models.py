"""Triage on real tiny models trained here with TRL's SFTTrainer (CPU): the measurements mean what they say."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rankinv.config import TriageConfig
from rankinv.triage.backends.base import SamplingSettings
from rankinv.triage.prompts import load_prompt_set
from rankinv.triage.report import REPORT_FILENAME, TriageReport, read_report
from rankinv.triage.run import TriageRequest, run_triage
from tests.support import tinylm

pytestmark = pytest.mark.slow
REWARD = f"{Path(tinylm.__file__).resolve()}:valid_answer_reward"
CONFIG = TriageConfig()


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One SFT run on one canonical answer per prompt: checkpoint-25 is early, the final save far past convergence."""
    root = tmp_path_factory.mktemp("ladder")
    base = tinylm.save_base(root / "base")
    rows = tinylm.ToyTask().sft_rows()
    final = tinylm.sft(base, rows, root / "sft", epochs=100, batch_size=len(rows), save_steps=25)
    prompts = tinylm.write_prompts_jsonl(root / "prompts.jsonl")
    return {"base": base, "early": final / "checkpoint-25", "late": final, "prompts": prompts, "root": root}


def _triage(checkpoint: Path, prompts: Path, output: str | None = "", **settings: object) -> TriageReport:
    sampling = replace(SamplingSettings(samples=16, max_new_tokens=4), **settings)  # type: ignore[arg-type]
    request = TriageRequest(str(checkpoint), str(prompts), sampling, group_size=8, reward=REWARD, output=output)
    return run_triage(request, CONFIG)


@pytest.fixture(scope="module")
def reports(ladder: dict[str, Path]) -> dict[str, TriageReport]:
    return {name: _triage(ladder[name], ladder["prompts"]) for name in ("early", "late")}


def _with_signal(report: TriageReport) -> int:
    return sum(0 < p.passes < p.samples for p in report.prompts)


def test_overtrained_checkpoint_has_lower_entropy_and_less_signal(reports: dict[str, TriageReport]) -> None:
    early, late = reports["early"], reports["late"]
    assert early.metrics.entropy_token_mean is not None and late.metrics.entropy_token_mean is not None
    assert late.metrics.entropy_token_mean.hi < early.metrics.entropy_token_mean.lo
    assert late.metrics.entropy_monte_carlo.estimate < early.metrics.entropy_monte_carlo.estimate
    assert _with_signal(late) < _with_signal(early)
    assert late.metrics.degenerate_fraction.estimate > early.metrics.degenerate_fraction.estimate
    # The trap rank inversion sets: the collapsed checkpoint has the *better* pass@1.
    assert late.metrics.pass_at_1.estimate > early.metrics.pass_at_1.estimate


def test_stage1_flag_catches_the_collapsed_checkpoint(reports: dict[str, TriageReport]) -> None:
    late_reasons = {r.metric for r in reports["late"].flag.reasons}
    assert reports["late"].flag.flagged
    assert "entropy_token_mean" in late_reasons
    assert "entropy_token_mean" not in {r.metric for r in reports["early"].flag.reasons}


@pytest.mark.parametrize("name", ["early", "late"])
def test_exact_and_monte_carlo_entropy_agree(reports: dict[str, TriageReport], name: str) -> None:
    exact, mc = reports[name].metrics.entropy_token_mean, reports[name].metrics.entropy_monte_carlo
    assert exact is not None
    assert exact.lo <= mc.hi and mc.lo <= exact.hi, f"exact {exact} vs Monte-Carlo {mc}"


def test_recorded_entropy_is_the_sampling_distribution(ladder: dict[str, Path]) -> None:
    """Recompute each recorded step with a teacher-forced forward pass: same entropy and log-probs (left pad, T≠1)."""
    import torch

    from rankinv.triage.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_checkpoint(ladder["early"])
    prompts = ["after one comes", "a number bigger than three is", "after seven comes"]  # different lengths
    temperature = 1.3
    rollouts = backend.sample(prompts, SamplingSettings(samples=3, max_new_tokens=4, temperature=temperature))
    checked = 0
    for prompt, group in zip(prompts, rollouts, strict=True):
        prompt_ids = backend.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        for rollout in group:
            ids = torch.tensor([prompt_ids + list(rollout.token_ids)])
            with torch.no_grad():
                logits = backend.model(input_ids=ids).logits[0]
            steps = logits[len(prompt_ids) - 1 : ids.shape[1] - 1].double()
            logprobs = torch.log_softmax(steps / temperature, -1)  # an independent float64 reference
            entropy = -(logprobs.exp() * logprobs).sum(-1)
            sampled = logprobs.gather(1, torch.tensor(rollout.token_ids)[:, None]).squeeze(1)
            np.testing.assert_allclose(rollout.entropies or (), entropy.numpy(), atol=1e-4)
            np.testing.assert_allclose(rollout.logprobs, sampled.numpy(), atol=1e-4)
            checked += len(rollout.token_ids)
    assert checked > 9


def test_checkpoint_generation_config_is_overridden(ladder: dict[str, Path], tmp_path: Path) -> None:
    """A generation_config.json with greedy/top_k=1/T=0.05/penalty must not change what triage samples."""
    hostile = tmp_path / "hostile"
    shutil.copytree(ladder["early"], hostile)
    (hostile / "generation_config.json").write_text(json.dumps({
        "do_sample": False, "temperature": 0.05, "top_k": 1, "top_p": 0.1, "repetition_penalty": 5.0,
        "max_new_tokens": 1, "min_p": 0.9,
    }))
    plain, overridden = _triage(ladder["early"], ladder["prompts"]), _triage(hostile, ladder["prompts"])
    assert [p.passes for p in overridden.prompts] == [p.passes for p in plain.prompts]
    assert overridden.metrics.entropy_token_mean == plain.metrics.entropy_token_mean
    assert _with_signal(overridden) > 0


def test_pass_rates_match_brute_force_enumeration(ladder: dict[str, Path]) -> None:
    """One-token completions: the exact pass rate is a sum over the vocabulary; sampled c/n must agree."""
    import torch

    from rankinv.triage.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_checkpoint(ladder["early"])
    reward = tinylm.task_reward()
    prompts = [p.prompt for p in load_prompt_set(str(ladder["prompts"])).prompts]
    vocab = [backend.tokenizer.decode([t], skip_special_tokens=True) for t in range(len(backend.tokenizer))]
    exact = []
    for prompt in prompts:
        ids = torch.tensor([backend.tokenizer(prompt, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            probs = torch.softmax(backend.model(input_ids=ids).logits[0, -1].double(), -1).numpy()
        exact.append(float(np.dot(probs, reward([prompt] * len(vocab), vocab))))
    n = 64
    report = _triage(ladder["early"], ladder["prompts"], samples=n, max_new_tokens=1)
    rates = [p.pass_rate for p in report.prompts]  # same order as the prompt set
    for p, observed in zip(exact, rates, strict=True):
        assert abs(observed - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1.5 / n, (observed, p)
    spread = 4.5 * math.sqrt(sum(p * (1 - p) for p in exact) / n) / len(exact)
    assert abs(report.metrics.pass_at_1.estimate - float(np.mean(exact))) <= spread + 1e-9
    assert 0.05 < float(np.mean(exact)) < 0.95, "the toy must be neither all-pass nor all-fail to test anything"


def _adapter(base: Path, out: Path, identity: bool) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    lora = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=identity)
    get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)), lora).save_pretrained(str(out))
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(base)
    return out


def test_lora_adapter_is_loaded_over_its_base(ladder: dict[str, Path], tmp_path: Path) -> None:
    """A fresh LoRA adapter (B = 0) reproduces its base; a random one does not — so the adapter is really applied."""
    direct = _triage(ladder["late"], ladder["prompts"], samples=4)
    identity = _triage(_adapter(ladder["late"], tmp_path / "identity", True), ladder["prompts"], samples=4)
    changed = _triage(_adapter(ladder["late"], tmp_path / "random", False), ladder["prompts"], samples=4)
    assert direct.metrics.entropy_token_mean is not None
    assert identity.metrics.entropy_token_mean is not None and changed.metrics.entropy_token_mean is not None
    assert identity.metrics.entropy_token_mean.estimate == pytest.approx(direct.metrics.entropy_token_mean.estimate,
                                                                         rel=1e-4)
    assert [p.passes for p in identity.prompts] == [p.passes for p in direct.prompts]
    assert changed.metrics.entropy_token_mean.estimate != pytest.approx(direct.metrics.entropy_token_mean.estimate,
                                                                        rel=1e-2)


def test_report_is_written_next_to_the_checkpoint(ladder: dict[str, Path], tmp_path: Path) -> None:
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(ladder["early"], checkpoint)
    report = _triage(checkpoint, ladder["prompts"], output=None, samples=2)
    on_disk = read_report(checkpoint)
    assert on_disk == report
    assert (checkpoint / REPORT_FILENAME).exists()
    assert [p.name for p in checkpoint.iterdir() if p.name.startswith(f".{REPORT_FILENAME}")] == []


def test_training_job_writes_reports_at_each_save(ladder: dict[str, Path], tmp_path: Path) -> None:
    """RankinvCallback(triage_on_save=TriageOnSave(...)) inside a real SFTTrainer run."""
    import torch

    from rankinv.integrations.triage_on_save import TriageOnSave
    from rankinv.integrations.trl import RankinvCallback

    hook = TriageOnSave(prompts=str(ladder["prompts"]), samples=2, max_new_tokens=3, limit=4, reward=REWARD)
    rows = tinylm.ToyTask().sft_rows()
    torch.manual_seed(123)
    rng_before = torch.random.get_rng_state()
    out = tinylm.sft(ladder["base"], rows, tmp_path / "run", epochs=2, batch_size=len(rows), save_steps=1,
                     callbacks=[RankinvCallback(triage_on_save=hook)])
    saved = sorted(out.glob("checkpoint-*"))
    assert len(saved) == 2
    for checkpoint in saved:
        report = read_report(checkpoint)
        assert report.sampling.prompts == 4 and report.sampling.samples == 2
        assert report.metrics.entropy_probe is not None
    assert not torch.equal(rng_before, torch.random.get_rng_state())  # training itself consumed randomness


def test_probe_entropy_matches_unpadded_forward_passes(ladder: dict[str, Path]) -> None:
    """Batched, left-padded, chunked probe entropy equals one unpadded forward pass per prompt."""
    import torch

    from rankinv.triage.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_checkpoint(ladder["early"])
    prompts = ["after one comes", "a number bigger than three is", "after seven comes seven"]
    probed = backend.probe_entropy(prompts, temperature=0.8)
    for prompt, got in zip(prompts, probed, strict=True):
        ids = torch.tensor([backend.tokenizer(prompt, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            logits = backend.model(input_ids=ids).logits[0, :-1].double()
        logprobs = torch.log_softmax(logits / 0.8, -1)
        np.testing.assert_allclose(got, -(logprobs.exp() * logprobs).sum(-1).numpy(), atol=1e-4)
        assert got.size == ids.shape[1] - 1


def test_chat_template_wraps_prompts_and_reaches_the_reward(ladder: dict[str, Path], tmp_path: Path) -> None:
    checkpoint = tmp_path / "chat"
    shutil.copytree(ladder["early"], checkpoint)
    config_path = checkpoint / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    tokenizer_config["chat_template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    config_path.write_text(json.dumps(tokenizer_config))
    plain = _triage(ladder["early"], ladder["prompts"], samples=4)
    chat = _triage(checkpoint, ladder["prompts"], samples=4)  # auto: the tokenizer now has a template
    assert chat.sampling.chat_template and not plain.sampling.chat_template
    # This template renders the prompt unchanged, so sampling is identical and the (conversational) reward agrees.
    assert chat.metrics.entropy_token_mean == plain.metrics.entropy_token_mean
    assert [p.passes for p in chat.prompts] == [p.passes for p in plain.prompts]
    forced_off = _triage(checkpoint, ladder["prompts"], samples=4, chat_template=False)
    assert not forced_off.sampling.chat_template
    assert [p.passes for p in forced_off.prompts] == [p.passes for p in plain.prompts]


def test_unwritable_report_path_is_a_clear_error(ladder: dict[str, Path], tmp_path: Path) -> None:
    from rankinv.errors import RankinvError

    with pytest.raises(RankinvError, match=r"cannot write the triage report.*--no-write"):
        _triage(ladder["early"], ladder["prompts"], output=str(tmp_path / "missing-dir" / "r.json"), samples=2)


@pytest.mark.parametrize("scale", [0.1, 3.0, 40.0])
def test_fast_entropy_matches_float64_with_masked_tokens(scale: float) -> None:
    import torch

    from rankinv.triage.backends.transformers_backend import shifted_entropy

    logits = torch.randn(4, 5000, generator=torch.Generator().manual_seed(1)) * scale
    logits[:, :50] = -float("inf")  # suppressed tokens, as some processors produce
    entropy, d, log_z = shifted_entropy(logits, 0.7)
    logprobs = torch.log_softmax(logits.double() / 0.7, -1)
    reference = -torch.where(logprobs.isfinite(), logprobs.exp() * logprobs, 0.0).sum(-1)
    np.testing.assert_allclose(entropy.double().numpy(), reference.numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose((d[:, 50:] - log_z[:, None]).double().numpy(), logprobs[:, 50:].numpy(), atol=1e-4)
