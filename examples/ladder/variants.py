"""Every prior variant tried for the fourth and fifth held-out sets, scored on development data only:
``python -m examples.ladder.variants [--fifth]``.

Each variant is a formula of one prompt's numbers (pre_i: its pass@10, p1_i: its pass rate, C_i: its pass@K,
s_i: the share of its groups that differ) and of the candidate's s (share of all groups that differ), L
(learnability) and q (exp(-eval loss), 1 when unknown; for V3r the lowest eval loss so far over the current one),
read from the stored per-prompt counts and the one evaluation path's own terms; without counts (the paper's Qwen
table) the same formula of the means, s_i = s. Scored on hump seeds 0-10 (Spearman per seed, level bias and RMS
error), the digits ladder and the Qwen table, and chosen leave-one-seed-out by the rule written in
``VALIDATION.md`` ("Fourth held-out set"). The kept variant must equal the predictor
(``tests/test_ladder_evidence.py``).

``--fifth`` scores the variants tried for the fifth held-out set (``FIFTH``: models of what GRPO reaches on
never-solved prompts and of what it does to a checkpoint that guesses) on hump seeds 0-13 and the digits ladder
(seeds 0-2, 30 and 60 GRPO steps), each task apart, and the Qwen table, beside the kept prior.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from examples.ladder.evidence import QWEN, Ladder, fmt_cell, load, predict, rho

Prompt = Callable[[float, float, float, float, float, float, float], float]
"""(pre_i, p1_i, C_i, s_i, s, L, q) -> the prompt's predicted pass@10 after GRPO."""


@dataclass(frozen=True)
class Variant:
    key: str
    formula: str
    per_prompt: Prompt
    keeps_pre_when_nothing_learns: bool
    """L = 0 (a run that cannot learn) predicts the pre-RL pass@10: the consistency every kept variant needs."""


KEPT = "V3"
VARIANTS = (
    Variant("V0", "previous prior: pre + (C + (1-C) s - pre) L", lambda pre, p1, c, si, s, L, q:
            pre + (c + (1 - c) * s - pre) * L, True),
    Variant("V1", "no reach: pre + (C - pre) L", lambda pre, p1, c, si, s, L, q: pre + (c - pre) * L, True),
    Variant("V2", "covered held at pre: pre + (1-C) s L", lambda pre, p1, c, si, s, L, q:
            pre + (1 - c) * s * L, True),
    Variant("V2b", "V2 without L: pre + (1-C) s", lambda pre, p1, c, si, s, L, q: pre + (1 - c) * s, False),
    Variant("VA", "V0, uncovered reach times q", lambda pre, p1, c, si, s, L, q:
            pre + (c + (1 - c) * s * q - pre) * L, True),
    Variant("V2q", "V2, uncovered reach times q", lambda pre, p1, c, si, s, L, q: pre + (1 - c) * s * q * L, True),
    Variant("V3", "covered sharpened by its own signal: pre + (s_i (C - pre) + s (1-C)) L",
            lambda pre, p1, c, si, s, L, q: pre + (si * (c - pre) + s * (1 - c)) * L, True),
    Variant("V3q", "V3, uncovered reach times q", lambda pre, p1, c, si, s, L, q:
            pre + (si * (c - pre) + s * q * (1 - c)) * L, True),
    Variant("V3r", "V3, uncovered reach over the eval loss's rise (q = lowest loss so far / loss)",
            lambda pre, p1, c, si, s, L, q: pre + (si * (c - pre) + s * q * (1 - c)) * L, True),
    Variant("V5", "diversity spent: p1 + (s_i (C - p1) + s (1-C)) L", lambda pre, p1, c, si, s, L, q:
            p1 + (si * (c - p1) + s * (1 - c)) * L, False),
    Variant("V5b", "V5 without L: p1 + s_i (C - p1) + s (1-C)", lambda pre, p1, c, si, s, L, q:
            p1 + si * (c - p1) + s * (1 - c), False),
    Variant("V6", "diversity spent as it learns: pre + (p1 + s_i (C - p1) + s (1-C) - pre) L",
            lambda pre, p1, c, si, s, L, q: pre + (p1 + si * (c - p1) + s * (1 - c) - pre) * L, True),
)


def prompt_numbers(row: dict[str, Any]) -> list[tuple[float, float, float, float]]:
    """(pre_i, p1_i, C_i, s_i) of every stored prompt, as the predictor reads them."""
    from examples.ladder.evidence import features
    from rankinv.config import Config
    from rankinv.predict import prompt_terms

    f, cfg = features(row), Config().predict
    return [(pre, c / n, cov, own) for (pre, cov, own), (c, n) in zip(prompt_terms(f, cfg), f.prompt_counts,
                                                                         strict=True)]


def value(v: Variant, row: dict[str, Any]) -> float:
    """The variant's prediction for a stored rung: the mean over its prompts, shifted so that it starts from the
    predictor's own pre-RL pass@10 (the mean of the prompts' own ones up to rounding)."""
    t = dict(predict(row).terms)
    q = math.exp(-row["eval_loss"]) if row.get("eval_loss") is not None and math.isfinite(row["eval_loss"]) else 1.0
    per = prompt_numbers(row)
    rise = row["features"].get("sft_eval_loss_rise")
    t["rise"] = float(rise) if rise is not None and math.isfinite(rise) else 1.0
    q = 1.0 / t["rise"] if v.key == "V3r" else q
    vals = [v.per_prompt(pre, p1, c, si, t["signal"], t["learn"], q) for pre, p1, c, si in per]
    return t["pre"] + float(np.mean(vals)) - float(np.mean([p[0] for p in per]))


def qwen_ranking(per_rung: Callable[[dict[str, float], float], float]) -> tuple[float, str]:
    """Spearman on the paper's Qwen table of ``per_rung(prior terms, pass@1)`` for each rung (means only: the
    table has no per-prompt counts), and the rung ranked first."""
    from rankinv.commands.rank import candidate, read_ladder
    from rankinv.predict import prior

    rows, g = read_ladder(QWEN)
    cands = [candidate(r, i, g or 8) for i, r in enumerate(rows)]
    vals = [per_rung(dict(prior(f).terms), f.pass1) for f, _ in cands]
    top = max(range(len(vals)), key=lambda i: vals[i])
    return rho(vals, [a for _, a in cands]), f"{rows[top]['sft_epochs']}"


def qwen(v: Variant) -> tuple[float, str]:
    """Spearman on the paper's Qwen table (means only: s_i = s, q = 1) and the rung ranked first."""
    return qwen_ranking(lambda t, p1: v.per_prompt(t["pre"], p1, t["coverage"], t["signal"], t["signal"],
                                                   t["learn"], 1.0))  # fmt: skip


@dataclass(frozen=True)
class Scores:
    spearman: tuple[float, ...]
    errors: tuple[tuple[float, ...], ...]
    digits: float
    qwen: float
    qwen_first: str


def score(v: Variant, hump: Sequence[Ladder], digits: Sequence[Ladder]) -> Scores:
    def one(lad: Ladder) -> tuple[float, tuple[float, ...]]:
        vals = [value(v, r) for r in lad.rows]
        return rho(vals, lad.actual), tuple(x - a for x, a in zip(vals, lad.actual, strict=True))

    h = [one(lad) for lad in hump]
    d = float(np.nanmean([one(lad)[0] for lad in digits]))
    qr, first = qwen(v)
    return Scores(tuple(x for x, _ in h), tuple(e for _, e in h), d, qr, first)


def eligible(v: Variant, s: Scores, base: Scores, train: Sequence[int]) -> bool:
    """The rule of VALIDATION.md: consistent at L = 0, the Qwen target kept, a level no worse than the previous
    prior's on the training seeds."""
    def rms(sc: Scores) -> float:
        return float(np.sqrt(np.mean(np.square(np.concatenate([sc.errors[i] for i in train])))))

    return v.keeps_pre_when_nothing_learns and s.qwen >= 0.7 and s.qwen_first == "1.0" and rms(s) <= rms(base)


def choose(scores: dict[str, Scores], train: Sequence[int]) -> str:
    base = scores["V0"]
    ok = [(float(np.mean([s.spearman[i] for i in train])), k) for k, s in scores.items()
          if eligible(next(v for v in VARIANTS if v.key == k), s, base, train)]
    return max(ok)[1]


def table(hump: Sequence[Ladder], digits: Sequence[Ladder]) -> str:
    scores = {v.key: score(v, hump, digits) for v in VARIANTS}
    seeds = list(range(len(hump)))
    lines = ["| variant | formula (per prompt) | hump 0–10 mean | per seed | bias | RMS | digits | Qwen (first) | "
             "eligible |", "|---|---|---:|---|---:|---:|---:|---|---|"]
    base = scores["V0"]
    for v in VARIANTS:
        s = scores[v.key]
        err = np.concatenate(s.errors)
        cells = [v.key + (" (kept)" if v.key == KEPT else ""), v.formula, f"{np.mean(s.spearman):+.3f}",
                 " ".join(fmt_cell(x) for x in s.spearman), f"{err.mean():+.3f}", f"{np.sqrt((err**2).mean()):.3f}",
                 fmt_cell(s.digits), f"{fmt_cell(s.qwen)} ({s.qwen_first})",
                 "yes" if eligible(v, s, base, seeds) else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    picks = [(lad.seed, choose(scores, [j for j in seeds if j != i])) for i, lad in enumerate(hump)]
    loso = [scores[k].spearman[i] for i, (_, k) in enumerate(picks)]
    lines += ["", "Leave-one-seed-out choice (chosen on the other ten seeds, scored on the seed): "
              + ", ".join(f"seed {s} {k} {fmt_cell(x)}" for (s, k), x in zip(picks, loso, strict=True))
              + f"; mean {np.mean(loso):+.3f}. Chosen on all eleven: {choose(scores, seeds)}."]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint's numbers a fifth-set variant reads besides its prompts'. ``e``: the probability that a
    group of g on a never-solved prompt differs, from Robbins' empirical-Bayes estimate of such a prompt's pass
    rate (E[p/(1-p) | 0 of n] = N1 / (n N0): N0 prompts never solved, N1 solved once); ``x``: the chance that the
    run draws at least one such group over its visits to the prompt (``visits`` = GRPO steps times prompts a step
    over the prompt count, from the ladder's settings); ``D``: the share of the pass rates' Bernoulli variance that
    lies between prompts (0 when every prompt has the same rate, as for a checkpoint that guesses; 1 when each
    prompt is always or never solved)."""

    s: float
    L: float
    e: float = 0.0
    x: float = 0.0
    D: float = 1.0


Prompt5 = Callable[[float, float, float, float, Checkpoint], float]
"""(pre_i, p1_i, C_i, s_i, checkpoint) -> the prompt's predicted pass@10 after GRPO."""


def _v3(pre: float, p1: float, c: float, si: float, k: Checkpoint) -> float:
    return pre + (si * (c - pre) + k.s * (1 - c)) * k.L


FIFTH: tuple[tuple[str, str, Prompt5], ...] = (
    ("V3", "the kept prior: pre + (s_i (C - pre) + s (1-C)) L", _v3),
    ("W1", "two routes to a never-solved prompt, shared weights or its own exploration: s -> 1 - (1-s)(1-e)",
     lambda pre, p1, c, si, k: pre + (si * (c - pre) + (1 - (1 - k.s) * (1 - k.e)) * (1 - c)) * k.L),
    ("W2", "W1 with the exploration route not bounded by L: V3 + (1 - s L) e (1-C)",
     lambda pre, p1, c, si, k: _v3(pre, p1, c, si, k) + (1 - k.s * k.L) * k.e * (1 - c)),
    ("W3", "own exploration only: s -> e", lambda pre, p1, c, si, k: pre + (si * (c - pre) + k.e * (1 - c)) * k.L),
    ("W4", "what transfers scaled by the prompts' discrimination: pre + (s_i (C - pre) + s (1-C)) D L",
     lambda pre, p1, c, si, k: pre + (si * (c - pre) + k.s * (1 - c)) * k.D * k.L),
    ("W5", "a guessing share spends its diversity: V3 - (1 - D) L (pre - p1)",
     lambda pre, p1, c, si, k: _v3(pre, p1, c, si, k) - (1 - k.D) * k.L * (pre - p1)),
    ("W6a", "exploration over the run's visits, outside L: pre + s_i (C - pre) L + (1 - (1 - s L)(1 - x)) (1-C)",
     lambda pre, p1, c, si, k: pre + si * (c - pre) * k.L + (1 - (1 - k.s * k.L) * (1 - k.x)) * (1 - c)),
    ("W6b", "exploration over the run's visits, inside L: s -> 1 - (1-s)(1-x)",
     lambda pre, p1, c, si, k: pre + (si * (c - pre) + (1 - (1 - k.s) * (1 - k.x)) * (1 - c)) * k.L),
)


def checkpoint(row: dict[str, Any], lad: Ladder) -> Checkpoint:
    """The checkpoint numbers of a stored rung (``Checkpoint``), from its counts and the ladder's settings."""
    from examples.ladder.evidence import features

    t, f = dict(predict(row).terms), features(row)
    counts = np.array(f.prompt_counts, dtype=np.float64)
    c, n = counts[:, 0], counts[:, 1]
    n0, n1, g = float(np.sum(c == 0)), float(np.sum(c == 1)), f.group_size
    odds = n1 / (float(n.min()) * n0) if n0 else 0.0
    p0 = odds / (1 + odds)
    e = 1 - (1 - p0) ** g - p0**g if n0 else 0.0
    visits = lad.rl_steps * (32 / g) / len(c)  # the ladder's GRPO batch: 32 completions a step
    p = c / n
    total = float(p.mean() * (1 - p.mean()))
    within = float(np.mean(c * (n - c) / (n * (n - 1))))  # unbiased per-prompt p(1-p)
    D = min(1.0, max(0.0, 1 - within / total)) if total > 0 else 0.0
    return Checkpoint(t["signal"], t["learn"], e, 1 - (1 - e) ** visits, D)


def value5(fn: Prompt5, row: dict[str, Any], lad: Ladder) -> float:
    """A fifth-set variant's prediction for a stored rung, shifted as :func:`value` is."""
    t, k, per = dict(predict(row).terms), checkpoint(row, lad), prompt_numbers(row)
    vals = [fn(pre, p1, c, si, k) for pre, p1, c, si in per]
    return t["pre"] + float(np.mean(vals)) - float(np.mean([q[0] for q in per]))


def qwen5(fn: Prompt5) -> tuple[float, str]:
    """The Qwen table (means only: s_i = s; no counts, so e = x = 0 and D = 1) and the rung ranked first."""
    return qwen_ranking(lambda t, p1: fn(t["pre"], p1, t["coverage"], t["signal"], Checkpoint(t["signal"], t["learn"])))


def table5(hump: Sequence[Ladder], digits: Sequence[Ladder]) -> str:
    """Every fifth-set variant on each task apart (Spearman per ladder, the hump's level) and the Qwen table."""
    lines = ["| variant | model | hump 0–13 mean | bias | RMS | digits mean | digits per ladder (30 steps, 60 steps) "
             "| Qwen (first) |", "|---|---|---:|---:|---:|---:|---|---|"]
    for key, formula, fn in FIFTH:
        h = [[value5(fn, r, lad) for r in lad.rows] for lad in hump]
        err = np.concatenate([np.subtract(v, lad.actual) for v, lad in zip(h, hump, strict=True)])
        hs = [rho(v, lad.actual) for v, lad in zip(h, hump, strict=True)]
        ds = [rho([value5(fn, r, lad) for r in lad.rows], lad.actual) for lad in digits]
        qr, first = qwen5(fn)
        cells = [key + (" (kept)" if key == "V3" else ""), formula, f"{np.mean(hs):+.3f}", f"{err.mean():+.3f}",
                 f"{np.sqrt((err**2).mean()):.3f}", f"{np.mean(ds):+.3f}", " ".join(fmt_cell(x) for x in ds),
                 f"{fmt_cell(qr)} ({first})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def fifth_dev() -> tuple[list[Ladder], list[Ladder]]:
    """The development data of the fifth set: hump seeds 0-13, digits seeds 0-2 (both run lengths)."""
    return [lad for lad in load() if lad.seed <= 13], [lad for lad in load(task="digits") if lad.split == "dev"]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if "--fifth" in args:
        print(table5(*fifth_dev()), end="")
        return 0
    hump = [lad for lad in load() if lad.seed <= 10]
    print(table(hump, load(task="digits")), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
