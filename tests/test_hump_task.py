"""The hump ladder's task is what its docstring says: the SFT habit is right on the seen relations and always wrong
on ``far from``, the SFT held-out rows are the left-out X values, and the reward scores the first word."""

from __future__ import annotations

from examples.ladder import hump

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")


def test_every_prompt_has_its_valid_answers_by_arithmetic() -> None:
    for item in hump.ITEMS:
        relation = item.id.rsplit("-", 1)[0]
        expect = {"bigger": lambda n, x: n > x, "smaller": lambda n, x: n < x,
                  "far": lambda n, x: abs(n - x) >= 5}[relation]
        assert item.valid == {w for n, w in enumerate(WORDS) if expect(n, item.x)}, item.id
        assert item.valid, item.id
    assert len(hump.ITEMS) == 19 + 19 + 20


def test_the_sft_habit_is_right_where_shown_and_wrong_on_far() -> None:
    for item in hump.ITEMS:
        if item.canonical is not None:
            assert item.canonical in item.valid
        habits = {WORDS[n] for n in (item.x - 1, item.x + 1) if 0 <= n < len(WORDS)}
        if item.id.startswith("far-"):
            assert item.canonical is None and not habits & item.valid


def test_sft_trains_on_seen_x_and_evaluates_on_the_left_out_x() -> None:
    train = {r["prompt"] for r in hump.sft_rows()}
    held = {r["prompt"] for r in hump.sft_eval_rows()}
    assert not train & held and all("far" not in p for p in train | held)
    assert {p.split()[-2] for p in held} == {"three", "seven", "eleven", "fifteen", "nineteen"}
    assert len(train) + len(held) == 38 and set(hump.rl_prompts()) >= train | held


def test_the_reward_reads_the_first_word() -> None:
    prompts = ["a number far from ten is"] * 4
    assert hump.reward(prompts, [" two and", " fifteen", " eleven", ""]) == [1.0, 1.0, 0.0, 0.0]
