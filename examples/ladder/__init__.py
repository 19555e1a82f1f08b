"""Rank inversion at toy scale: SFT a tiny transformer to several depths, triage each checkpoint with rankinv, run
real TRL GRPO from each with rankinv's callback attached, and compare rankinv's prediction with the outcome.

Run ``python -m examples.ladder [--quick] [--rl-steps N] [--out DIR]``. Modules: :mod:`.task` (the verifiable
task), :mod:`.settings` (fixed settings, the runs' rankinv.toml), :mod:`.tinymodel` (tokenizer, tiny model, TRL
SFT/GRPO; also used by the tests), :mod:`.rung` (one SFT depth end to end), :mod:`.pipeline` (the ladder),
:mod:`.table` (the result table, Spearman, Markdown/JSON).
"""
