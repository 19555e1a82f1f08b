"""OpenRLHF stdout: each PPO/GRPO step's status, at the global step OpenRLHF printed with it.

Two published forms, by version:

- OpenRLHF ≥ 0.9 logs ``✨ Global step N: {'policy_loss': …, 'group_reward_std': …}`` after every step (its
  ``logging`` format ``INFO 12-01 12:00:00 ppo_trainer.py:551] …``, under Ray a ``(PPOTrainer pid=…)`` prefix),
  and ``✨ Evaluation completed in 0:00:05, global_step N, eval_metrics: {'eval_<ds>_pass8': …}``. The dict is a
  Python repr: full precision.
- OpenRLHF ≤ 0.8 puts the step's status on the episode's tqdm bar (``pbar.set_postfix(status)``):
  ``Episode [1/2]:  40%|████  | 2/5 [00:10<00:15,  5.00s/it, policy_loss=0.123, kl=0.00123, reward=0.5]``,
  values in tqdm's ``{:.3g}`` (3 significant digits). The bar is drawn before its ``update()``, so step N of an
  episode shows counter N−1; the global step is ``(episode − 1) · total + counter + 1``, which holds unless the run
  resumed mid-episode (the bar restarts at 0 then). The redraw after ``update()`` repeats the same status one
  counter later; the stdout reader drops such a repeat. The per-micro-batch ``Train epoch`` bars (short names:
  ``pg``, ``rm``, ``act_loss``) are not steps and are not read.
"""

from __future__ import annotations

import re

from rankinv.ingest.pydict import printed_dict
from rankinv.ingest.values import Record, last_of_redraws, record_from_mapping

_STEP_DICT = re.compile(r"\bGlobal step (?P<n>-?\d{1,40}): (?P<dict>\{.*\})")
_EVAL_DICT = re.compile(
    r"\bEvaluation completed in [^,]{0,40}, global_step (?P<n>-?\d{1,40}), eval_metrics: (?P<dict>\{.*\})"
)
_EPISODE_BAR = re.compile(  # every part but the postfix is short: a hostile long line cannot make it slow
    r"Episode \[(?P<episode>\d{1,9})/\d{1,9}\]:.{0,1000}?(?P<n>\d{1,18})/(?P<total>\d{1,18}) "
    r"\[[^,\]\r\n]{0,40}, [^,\]\r\n]{0,40}, (?P<postfix>[^\]]+)\]"
)


def parse_segment(segment: str) -> Record | None:
    """The step status in one ``\\r``-separated segment, or None."""
    for pattern, literal in ((_STEP_DICT, "Global step "), (_EVAL_DICT, "Evaluation completed in ")):
        match = pattern.search(segment) if literal in segment else None  # the literal first: most lines are others
        if match:
            raw, _ = printed_dict(match["dict"])
            return record_from_mapping(raw, step=int(match["n"])) if raw else None
    match = _EPISODE_BAR.search(segment) if "Episode [" in segment else None
    if match is None:
        return None
    pairs = (part.partition("=") for part in match["postfix"].split(", "))
    values = {key.strip(): value for key, sep, value in pairs if sep and key.strip()}
    step = (int(match["episode"]) - 1) * int(match["total"]) + int(match["n"]) + 1
    return record_from_mapping(values, step=step)


def parse_line(line: str) -> Record | None:
    """The last step status on the line (a tqdm bar redraws on one line, separated by ``\\r``), or None."""
    return last_of_redraws(line, parse_segment)
