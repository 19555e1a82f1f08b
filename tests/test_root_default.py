"""Every command that takes a ROOT may leave it out: ``$RANKINV_ROOT``, else the current directory when it is a runs
root; otherwise a clear error. Checked on the parser for every command, and end to end for a few."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rankinv.cli import build_parser
from rankinv.commands import roots
from rankinv.errors import RankinvError

RANKINV = [sys.executable, "-m", "rankinv"]
# The commands whose ROOT (or --root) is a runs root, and one invocation of each without it.
WITHOUT_ROOT = {
    "watch": ["watch"], "status": ["status"], "arm": ["arm"], "disarm": ["disarm"], "init": ["init"],
    "runs": ["runs"], "calibrate": ["calibrate"], "notify-test": ["notify-test"], "explain": ["explain", "grpo-x"],
}  # fmt: skip


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    (root / "grpo-x").mkdir(parents=True)
    (root / "grpo-x" / "trainer_state.json").write_text('{"log_history": []}')
    return root


def _parsed(argv: list[str]) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    roots.resolve_args(args)
    return args


def test_every_root_positional_may_be_left_out() -> None:
    """No command declares a required ROOT of its own (they all go through roots.add_root)."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if action.dest in ("root", "target") and not action.option_strings:
                assert action.nargs in ("?", "*"), f"`rankinv {name}` still requires its ROOT"
    assert set(WITHOUT_ROOT) | {"daemon"} == {
        name for name, p in sub.choices.items() if any(a.dest in ("root", "target") for a in p._actions)
    }


@pytest.mark.parametrize("command", sorted(WITHOUT_ROOT))
def test_rankinv_root_then_cwd(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, elsewhere = _root(tmp_path), tmp_path / "empty"
    elsewhere.mkdir()
    monkeypatch.setenv("RANKINV_ROOT", str(root))
    monkeypatch.chdir(elsewhere)
    assert _parsed(WITHOUT_ROOT[command]).root == str(root)
    monkeypatch.delenv("RANKINV_ROOT")
    monkeypatch.chdir(root)
    assert Path(_parsed(WITHOUT_ROOT[command]).root) == root
    monkeypatch.chdir(elsewhere)  # neither: an error that says what to do, or (optional ROOTs) no root
    if command in ("notify-test", "explain"):
        assert _parsed(WITHOUT_ROOT[command]).root is None
    else:
        with pytest.raises(RankinvError, match=r"no ROOT given.*RANKINV_ROOT"):
            _parsed(WITHOUT_ROOT[command])


def _run(argv: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RANKINV_ROOT"} | extra
    return subprocess.run([*RANKINV, *argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
                          check=False)  # fmt: skip


def test_commands_run_on_the_default_root(tmp_path: Path) -> None:
    root, elsewhere = _root(tmp_path), tmp_path / "empty"
    elsewhere.mkdir()
    out = _run(["runs", "--json"], root)
    assert out.returncode == 0 and "grpo-x" in out.stdout, out.stderr
    out = _run(["init"], elsewhere, RANKINV_ROOT=str(root))
    assert out.returncode == 0 and (root / "rankinv.toml").is_file(), out.stderr
    out = _run(["daemon", "status", "--state-dir", str(tmp_path / "state")], root)
    assert str(root) in out.stdout + out.stderr and "Traceback" not in out.stderr
    out = _run(["daemon", "status"], elsewhere)
    assert out.returncode == 2 and "no ROOT given" in out.stderr
    out = _run(["init"], elsewhere)  # a new, empty root: the message says how to write it there
    assert out.returncode == 2 and "`rankinv init .` writes it here" in out.stderr
    assert not (elsewhere / "rankinv.toml").exists()
    assert _run(["init", "."], elsewhere).returncode == 0 and (elsewhere / "rankinv.toml").is_file()


def test_a_folder_that_is_clearly_no_runs_root_is_not_taken_by_default(tmp_path: Path) -> None:
    """The temp folder, or a folder of over a thousand entries (a home or scratch folder), is refused with what to
    do, even when runs lie below it; named as `.` it is taken, and a real runs root still is by default."""
    import tempfile

    crowded = tmp_path / "home"
    crowded.mkdir()
    for i in range(1001):
        (crowded / f"note-{i}.txt").write_text("")
    (crowded / "runs" / "grpo-x").mkdir(parents=True)
    (crowded / "runs" / "grpo-x" / "trainer_state.json").write_text('{"log_history": []}')
    out = _run(["runs", "--json"], crowded)
    assert out.returncode == 2 and "over 1000 entries" in out.stderr and "`.` to mean this one" in out.stderr
    out = _run(["runs", ".", "--json"], crowded)
    assert out.returncode == 0 and "runs/grpo-x" in out.stdout, out.stderr
    (crowded / "rankinv.toml").write_text("")  # a root the user set up is taken however full
    assert _run(["runs", "--json"], crowded).returncode == 0
    out = _run(["status"], Path(tempfile.gettempdir()))
    assert out.returncode == 2 and "is the temp folder" in out.stderr and "RANKINV_ROOT" in out.stderr
    assert _run(["runs", "--json"], crowded / "runs").returncode == 0  # an ordinary runs root: as before



def _listings_of(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every listing of ``folder`` from now on (``os.scandir`` and ``os.listdir``, however the path is spelled)."""
    seen: list[str] = []
    target = os.path.realpath(folder)
    for name in ("scandir", "listdir"):
        real = getattr(os, name)

        def counted(path: Any = ".", *, _real: Any = real, _name: str = name) -> Any:
            if not isinstance(path, int) and os.path.realpath(os.fspath(path)) == target:
                seen.append(_name)
            return _real(path)

        monkeypatch.setattr(os, name, counted)
    return seen


def test_a_left_out_root_looks_at_the_current_directory_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The current directory is listed once to tell whether it is a runs root and, if it is not, why: a folder of
    over a thousand entries is counted once (one listing); a runs root costs what one look at it costs."""
    monkeypatch.delenv("RANKINV_ROOT", raising=False)
    crowded = tmp_path / "home"
    crowded.mkdir()
    for i in range(1001):
        (crowded / f"note-{i}.txt").write_text("")
    monkeypatch.chdir(crowded)
    for argv, ok in ((["runs"], False), (["notify-test"], True), (["watch"], False)):
        with pytest.MonkeyPatch.context() as patch:
            seen = _listings_of(crowded, patch)
            if ok:
                assert _parsed(argv).root is None
            else:
                with pytest.raises(RankinvError, match="over 1000 entries"):
                    _parsed(argv)
        assert len(seen) == 1, (argv, seen)
    root = _root(tmp_path)
    monkeypatch.chdir(root)
    with pytest.MonkeyPatch.context() as patch:
        once = _listings_of(root, patch)
        assert roots.look_at(root).is_root  # the oracle: what one look at the folder lists
    assert len(once) >= 2  # its entries counted, its runs looked for
    for argv in (["runs"], ["notify-test"], ["status"]):
        with pytest.MonkeyPatch.context() as patch:
            seen = _listings_of(root, patch)
            assert Path(_parsed(argv).root) == root
        assert seen == once, argv
