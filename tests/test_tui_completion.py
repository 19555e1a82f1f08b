"""Shell completion from the parser, exercised in the real shells (bash, zsh, fish), and ROOT defaults."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rankinv.cli import build_parser
from rankinv.completion import script

RANKINV = [sys.executable, "-m", "rankinv"]


def _generated(shell: str, tmp_path: Path) -> Path:
    out = subprocess.run([*RANKINV, "completion", shell], capture_output=True, text=True, check=True, timeout=60)
    path = tmp_path / f"rankinv.{shell}"
    path.write_text(out.stdout)
    assert out.stdout == script(shell, build_parser())  # the command prints what the generator makes
    return path


def _bash(path: Path, line: str, cwd: Path) -> list[str]:
    """COMPREPLY after completing the last word of ``line`` (bash's own compgen does the matching)."""
    words = " ".join(shlex.quote(w) for w in line.split(" "))  # a trailing space is an empty word to complete
    program = (f"source {path}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); "
               "_rankinv_complete; printf '%s\\n' \"${COMPREPLY[@]}\"")  # fmt: skip
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True, cwd=cwd, timeout=30)
    return out.stdout.split()


def test_bash_completes_commands_options_choices_and_folders(tmp_path: Path) -> None:
    path = _generated("bash", tmp_path)
    (tmp_path / "runs-a").mkdir()
    (tmp_path / "notes.txt").write_text("")
    assert _bash(path, "rankinv wa", tmp_path) == ["watch"]
    assert set(_bash(path, "rankinv st", tmp_path)) == {"status"}
    assert "--no-daemon" in _bash(path, "rankinv watch --", tmp_path)
    assert _bash(path, "rankinv watch run", tmp_path) == ["runs-a"]  # folders only, for ROOT
    assert _bash(path, "rankinv completion ", tmp_path) == ["bash", "zsh", "fish"]
    assert _bash(path, "rankinv triage --backend v", tmp_path) == ["vllm"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is installed by scripts/setup --test")
def test_zsh_script_loads_and_registers(tmp_path: Path) -> None:
    path = _generated("zsh", tmp_path)
    program = f"autoload -U compinit; compinit -u -d {tmp_path}/zcd; source {path}; print -r -- $_comps[rankinv]"
    out = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "HOME": str(tmp_path)}, check=False)  # fmt: skip
    assert out.returncode == 0 and out.stdout.strip() == "_rankinv", out.stderr
    assert "'watch:live terminal UI" in path.read_text()


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is installed by scripts/setup --test")
def test_fish_completes_commands_and_options(tmp_path: Path) -> None:
    path = _generated("fish", tmp_path)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}

    def complete(line: str) -> list[str]:
        program = f"source {path}; complete -C {line!r}"
        out = subprocess.run(["fish", "--no-config", "-c", program], capture_output=True, text=True, timeout=30,
                             env=env, cwd=tmp_path, check=True)  # fmt: skip
        return [row.split("\t")[0] for row in out.stdout.splitlines()]

    assert complete("rankinv wat") == ["watch"]
    assert "--readonly" in complete("rankinv watch --")
    assert complete("rankinv completion z") == ["zsh"]


def test_root_defaults_to_rankinv_root_or_a_runs_root_cwd(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RANKINV_ROOT"}
    empty = tmp_path / "empty"
    empty.mkdir()
    out = subprocess.run([*RANKINV, "status"], capture_output=True, text=True, cwd=empty, env=env, timeout=120,
                         check=False)  # fmt: skip
    assert out.returncode == 2 and "no ROOT given" in out.stderr and "RANKINV_ROOT" in out.stderr
    root = tmp_path / "runs"
    (root / "grpo-x").mkdir(parents=True)
    (root / "grpo-x" / "trainer_state.json").write_text('{"log_history": []}')
    state = ["--state-dir", str(tmp_path / "state")]
    for cwd, extra in ((root, {}), (empty, {"RANKINV_ROOT": str(root)})):
        out = subprocess.run([*RANKINV, "status", *state], capture_output=True, text=True, cwd=cwd,
                             env={**env, **extra}, timeout=120, check=False)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert f"rankinv status: {root}" in " ".join(out.stdout.split()) and "grpo-x" in out.stdout
