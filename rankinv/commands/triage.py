"""``rankinv triage CHECKPOINT --prompts SET``: stage 1, measured the way GRPO will see the checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rankinv.errors import RankinvError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "triage",
        help="sample T=1 rollouts from an SFT checkpoint: entropy, per-prompt pass rates, GRPO signal, stage-1 flag",
        description=(
            "Sample rollouts from CHECKPOINT (a Hugging Face directory or LoRA adapter) with GRPO's settings "
            "(T=1, top_p 1, top_k off, no repetition penalty), score them, and report rollout entropy, pass@k, "
            "expected advantage variance, degenerate-group fraction, headroom over p*(g) and the stage-1 flag. "
            "Writes CHECKPOINT/rankinv-triage.json."
        ),
    )
    p.add_argument("checkpoint", help="checkpoint directory (full weights, or a LoRA adapter over its base model)")
    p.add_argument("--prompts", help="JSONL file, 'humaneval', or a bundled set: toy-add, code-mini")
    p.add_argument("--samples", "-n", type=int, help="rollouts per prompt (default: [triage] samples, 8)")
    p.add_argument("--group-size", "-g", type=int, help="GRPO group size g (default: [triage] group_size, 8)")
    p.add_argument("--max-new-tokens", type=int, help="completion length limit (default 256)")
    p.add_argument("--temperature", "-t", type=float, help="sampling temperature (default 1.0, as GRPO)")
    p.add_argument("--seed", type=int, help="sampling seed (default 0)")
    p.add_argument("--batch-size", type=int, help="rollouts per generate call (transformers backend)")
    p.add_argument("--limit", type=int, help="use only the first N prompts")
    p.add_argument("--reward", help="auto, tests, exact, normalized, or a TRL reward function module:function")
    p.add_argument("--backend", choices=["auto", "transformers", "vllm"], help="sampling backend (default auto)")
    p.add_argument("--base-model", help="base model for a LoRA adapter (default: the adapter's own record)")
    template = p.add_mutually_exclusive_group()
    template.add_argument("--chat-template", dest="chat_template", action="store_true", default=None,
                          help="wrap prompts in the tokenizer's chat template (default: when it has one)")
    template.add_argument("--no-chat-template", dest="chat_template", action="store_false", help="use raw prompts")
    p.add_argument("--allow-code-exec", action="store_true",
                   help="run generated code against unit tests (NOT a security sandbox; off by default)")
    p.add_argument("--no-probe", action="store_true", help="skip the teacher-forced probe entropy")
    p.add_argument("--output", "-o", help="report path (default CHECKPOINT/rankinv-triage.json)")
    p.add_argument("--no-write", action="store_true", help="do not write the report file")
    p.add_argument("--config", help="rankinv.toml (default: ./rankinv.toml if present)")
    p.add_argument("--json", action="store_true", help="print the report as JSON for machines")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from rankinv.config import find_config, load_config

    config = load_config(args.config or find_config(Path.cwd())).triage
    if args.allow_code_exec:
        config = replace(config, allow_code_exec=True)
    return config


def build_request(args: argparse.Namespace, config: Any) -> Any:
    from rankinv.triage.run import TriageRequest, settings_from_config

    prompts = args.prompts or config.prompts
    if not prompts:
        raise RankinvError("give --prompts (a JSONL file, 'humaneval', toy-add or code-mini) or set [triage] prompts")
    settings = settings_from_config(
        config, samples=args.samples, temperature=args.temperature, max_new_tokens=args.max_new_tokens,
        seed=args.seed, batch_size=args.batch_size, chat_template=args.chat_template,
    )
    return TriageRequest(
        checkpoint=args.checkpoint, prompts=prompts, settings=settings,
        group_size=args.group_size or config.group_size, reward=args.reward or config.reward,
        backend=args.backend or config.backend, base_model=args.base_model, limit=args.limit,
        probe=not args.no_probe, output="" if args.no_write else args.output,
    )


def run(args: argparse.Namespace) -> int:
    from rankinv.triage.run import run_triage
    from rankinv.triage.summary import print_summary, progress_bar

    config = _config(args)
    request = build_request(args, config)
    with progress_bar() as progress:
        report = run_triage(request, config, progress)
    if args.json:
        print(report.to_json())
    else:
        written = None if args.no_write else (args.output or str(Path(args.checkpoint) / "rankinv-triage.json"))
        print_summary(report, written)
    return 0
