"""mypy as the project runs it must catch a wrong call across packages (tui → daemon, daemon → core).

The calls are planted in new modules of a copy of the tree, then scripts/typecheck runs there exactly as
scripts/check runs it. A new module is picked up without being listed anywhere, and the error names the
planted source file (``tui/…``, ``daemon/…``), not the symlinked layout mypy reads it through.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("rankinv", "daemon", "tui", "scripts", "pyproject.toml", ".mypy_cache")

# Each plant: (source file, line of the wrong-typed call, line of the wrong-arity call, module text).
# object() fits no annotated parameter and ten positional arguments fit no signature here, so the plants
# stay wrong whatever the targets' signatures become.
TUI_PLANT = '''"""Planted: the TUI calling the daemon wrongly."""

from rankinv.daemon import control


def wrong_type() -> object:
    return control.status(object())


def wrong_arity() -> object:
    return control.status(".", None, 1, 2, 3, 4, 5, 6, 7, 8)
'''
DAEMON_PLANT = '''"""Planted: the daemon calling the core wrongly."""

from rankinv import advantage


def wrong_type() -> float:
    return advantage.p_star(object())


def wrong_arity() -> float:
    return advantage.p_star(8, 0.5, 1, 2, 3, 4, 5, 6, 7, 8)
'''
PLANTS = {"tui/planted_call.py": (7, 11, TUI_PLANT), "daemon/planted_call.py": (7, 11, DAEMON_PLANT)}


def _copy_tree(target: Path) -> None:
    skip = shutil.ignore_patterns("__pycache__")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=skip, symlinks=True)
        elif source.exists():
            shutil.copy2(source, target / name)


def _typecheck(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "VENV": sys.prefix, "HOME": str(tree)}
    return subprocess.run(["scripts/typecheck"], cwd=tree, env=env, capture_output=True, text=True, timeout=900,
                          check=False)  # fmt: skip


def test_planted_wrong_calls_across_packages_fail_naming_the_file(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    for name, (_, _, text) in PLANTS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = _typecheck(tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    for name, (type_line, arity_line, _) in PLANTS.items():
        assert re.search(rf"^{re.escape(name)}:{type_line}: error: .*\[arg-type\]$", out, re.M), out
        assert re.search(rf"^{re.escape(name)}:{arity_line}: error: Too many arguments .*\[call-arg\]$", out, re.M), out
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert errors and all(line.split(":")[0] in PLANTS for line in errors), out


def test_scripts_check_runs_typecheck() -> None:
    """The guard above is only worth something if scripts/check runs the same script."""
    lines = (ROOT / "scripts" / "check").read_text(encoding="utf-8").splitlines()
    assert any("scripts/typecheck" in line and "status=1" in line for line in lines)


def test_mypy_config_is_strict_everywhere() -> None:
    """Strict for every module, and missing imports ignored only for named third-party modules."""
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert mypy["strict"] is True and "ignore_missing_imports" not in mypy
    assert mypy["files"] == [".typecheck/rankinv"]
    for override in mypy.get("overrides", []):
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        assert not any(m == "rankinv" or m.startswith("rankinv.") for m in modules), override
        assert set(override) <= {"module", "ignore_missing_imports"}, override
