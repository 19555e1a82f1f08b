"""rankinv.toml: strict loading with file/line/key errors, a template that round-trips, relative paths."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from rankinv.config import Config, ConfigError, Interval, load_config, parse_config, render_template


def test_template_lists_every_setting_and_round_trips() -> None:
    text = render_template()
    assert parse_config(text) == Config()
    assert "tau_h = 0.18" in text and "[actions]" in text and "armed = false" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[triage]\nsampels = 3\n", "x.toml:2: unknown key 'sampels' in [triage]"),
        ("[triage]\nsamples = 'eight'\n", "x.toml:2: [triage] samples: expected an integer"),
        ("[monitor]\n\ntau_2 = true\n", "x.toml:3: [monitor] tau_2: expected a number"),
        ("[trige]\nsamples = 3\n", "x.toml:1: unknown section [trige]"),
        ("[triage\nsamples = 3\n", "x.toml: not valid TOML"),
    ],
)
def test_broken_config_names_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "x.toml")
    assert str(err.value).startswith(message)


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rankinv init"):
        load_config(tmp_path / "rankinv.toml")


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text("{}\n")
    (tmp_path / "reward.py").write_text("def reward(*a, **k): return []\n")
    cfg_path = tmp_path / "rankinv.toml"
    cfg_path.write_text(
        '[triage]\nprompts = "prompts.jsonl"\nreward = "reward.py:reward"\n[daemon]\nstate_dir = "state"\n'
    )
    cfg = load_config(cfg_path)
    assert cfg.triage.prompts == str(tmp_path / "prompts.jsonl")
    assert cfg.triage.reward == f"{tmp_path / 'reward.py'}:reward"
    assert cfg.daemon.state_dir == str(tmp_path / "state")
    # names that are not files next to the config stay as they are
    cfg_path.write_text('[triage]\nprompts = "humaneval"\nreward = "mypkg.rewards:fn"\n')
    cfg = load_config(cfg_path)
    assert (cfg.triage.prompts, cfg.triage.reward) == ("humaneval", "mypkg.rewards:fn")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[monitor]\ntau_2 = -1\n", "x.toml:2: [monitor] tau_2 = -1.0 is out of range; allowed: 0 < tau_2 <= 1"),
        ("[daemon]\npoll_interval = 0\n", "x.toml:2: [daemon] poll_interval = 0.0 is out of range; allowed: 0.05 <="),
        ("[daemon]\n\ndebounce_seconds = inf\n", "x.toml:3: [daemon] debounce_seconds = inf is out of range"),
        ("[daemon]\npoll_interval = 1e308\n", "x.toml:2: [daemon] poll_interval = 1e+308 is out of range"),
        ("[actions]\nmax_kills_per_hour = -1\n", "x.toml:2: [actions] max_kills_per_hour = -1 is out of range"),
        ("[notify]\nwebhook_retries = 0\n", "x.toml:2: [notify] webhook_retries = 0 is out of range; allowed: 1 <="),
        ("[triage]\nsamples = -3\n", "x.toml:2: [triage] samples = -3 is out of range"),
        ("[verdict]\nmax_zero_std = nan\n", "x.toml:2: [verdict] max_zero_std: expected a number, got nan"),
        ("[monitor]\nbaseline_step = 200\n", "x.toml:2: [monitor] decision_step must be greater than baseline_step"),
        ("[predict]\ncoverage_k = 4\n", "x.toml:2: [predict] coverage_k must be at least k (k = 10, coverage_k = 4)"),
    ],
)
def test_values_outside_a_settings_range_are_refused_naming_the_range(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "x.toml")
    assert str(err.value).startswith(message), str(err.value)


def numeric_settings() -> list[tuple[str, dataclasses.Field[object]]]:
    hints = typing.get_type_hints(Config)
    found = []
    for section in dataclasses.fields(Config):
        kinds = typing.get_type_hints(hints[section.name])
        for f in dataclasses.fields(hints[section.name]):
            if kinds[f.name] in (int, float, float | None, int | None):
                found.append((section.name, f))
    return found


@pytest.mark.parametrize(("section", "field"), numeric_settings(), ids=lambda x: getattr(x, "name", x))
def test_every_numeric_setting_has_a_range_and_refuses_what_lies_outside(
    section: str, field: dataclasses.Field[object]
) -> None:
    within = field.metadata.get("within")
    assert within, f"[{section}] {field.name} has no allowed range"
    interval = Interval.parse(within)
    default = field.default
    assert default is None or float(default) in interval, f"the default {default} is outside {within}"
    is_int = typing.get_type_hints(getattr(Config(), section).__class__)[field.name] is int
    step = 1 if is_int else max(1e-9, abs(interval.high - interval.low) * 1e-6)
    outside = [interval.low - step, interval.high + step, *([] if is_int else ["inf", "-inf", "1e308", "-1e308"])]
    if interval.low_open:
        outside.append(interval.low)
    for value in outside:
        literal = str(int(value)) if is_int else str(value)
        with pytest.raises(ConfigError, match=rf"^x\.toml:2: \[{section}\] {field.name} = .* is out of range; allowed"):
            parse_config(f"[{section}]\n{field.name} = {literal}\n", "x.toml")
    inside = interval.high if not interval.high_open else interval.high - step
    literal = str(int(inside)) if is_int else repr(float(inside))
    if section not in ("monitor", "predict"):  # ordered pairs there are checked by the test above
        parse_config(f"[{section}]\n{field.name} = {literal}\n", "x.toml")


def test_the_template_names_each_range() -> None:
    assert "(allowed: 0 < tau_2 <= 1)" in render_template()
