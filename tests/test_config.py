"""rankinv.toml: strict loading with file/line/key errors, a template that round-trips, relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankinv.config import Config, ConfigError, load_config, parse_config, render_template


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
