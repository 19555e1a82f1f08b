"""Rank inversion at toy scale: SFT a tiny transformer to several depths, triage each checkpoint with rankinv, run
real TRL GRPO from each with rankinv's callback attached, and compare rankinv's prediction with the outcome.

Run ``python -m examples.ladder [--quick] [--out DIR]``. Modules: :mod:`.task` (the verifiable task),
:mod:`.tinymodel` (tokenizer, tiny model, TRL SFT/GRPO), :mod:`.rung` (one SFT depth end to end),
:mod:`.pipeline` (the ladder), :mod:`.table` (the result table, Spearman, Markdown/JSON).
"""
