"""The import contracts catch the core reaching the daemon through another module, so they cannot silently rot.

On a temporary copy of the tree, an existing core module imports a new core module that imports the daemon (the
new one is not listed in any contract, as a contributor would forget to). The project's own tools run on the copy
the way ``scripts/check`` runs them, and must fail naming both modules and their files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = {"VENV": sys.prefix, "COLUMNS": "200"}  # the environment running these tests; no line wrapping
BRIDGE = '''"""A core module that reaches into the daemon."""

from __future__ import annotations

from rankinv.daemon import control

__all__ = ["control"]
'''
CHAIN = ("rankinv.stats -> rankinv.planted_bridge", "rankinv.planted_bridge -> rankinv.daemon.control")


def _copy_tree(dst: Path) -> Path:
    """The checkout's files (tracked, or new and not ignored) copied to ``dst`` as a fresh git repository, like a
    clone (so tools skip what .gitignore names); mypy's cache too, for speed."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    subprocess.run(["git", "init", "-q", str(dst)], check=True)
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", dst / ".mypy_cache")
    return dst


def _plant(tree: Path) -> None:
    (tree / "rankinv" / "planted_bridge.py").write_text(BRIDGE)
    stats = tree / "rankinv" / "stats.py"
    text = stats.read_text()
    anchor = "import numpy.typing as npt\n"
    assert anchor in text, "rankinv/stats.py changed its imports: pick a new anchor for the planted import"
    stats.write_text(text.replace(anchor, anchor + "\nfrom rankinv import planted_bridge  # noqa: F401\n", 1))


def _run(tree: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=tree, capture_output=True, text=True, env={**os.environ, **VENV},
                          timeout=900, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = _copy_tree(tmp_path_factory.mktemp("planted"))
    _plant(tree)
    return tree


def test_lint_imports_fails_naming_the_planted_chain(planted: Path) -> None:
    done = _run(planted, "scripts/lint-imports")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "The core never imports the daemon, the TUI, or UI/watching libraries BROKEN" in out
    assert "rankinv.stats is not allowed to import rankinv.daemon" in out
    for link, where in zip(CHAIN, ("rankinv/stats.py", "rankinv/planted_bridge.py"), strict=True):
        assert re.search(rf"{re.escape(link)} \(l\.\d+\)  {where}:\d+$", out, re.M), f"{link!r} not named:\n{out}"


def test_the_plant_is_the_indirect_loophole(planted: Path, tmp_path: Path) -> None:
    """The same tree passes when indirect imports are allowed, as they once were: the plant tests that setting."""
    lax = shutil.copytree(planted, tmp_path / "lax", ignore=shutil.ignore_patterns(".*cache", "build", "*.egg-info"))
    pyproject = lax / "pyproject.toml"
    text = pyproject.read_text()
    assert "allow_indirect_imports = false" in text
    pyproject.write_text(text.replace("allow_indirect_imports = false", "allow_indirect_imports = true"))
    done = _run(lax, "scripts/lint-imports")
    assert done.returncode == 0, done.stdout + done.stderr


def test_scripts_check_fails_on_the_plant_at_the_contracts_step(planted: Path) -> None:
    """``scripts/check`` exits non-zero, and for the contracts alone: ruff, mypy and the tests it runs pass."""
    done = _run(planted, "scripts/check", "tests/test_dynamic_imports.py", "-q", "-p", "no:cacheprovider")
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    sections = dict(re.findall(r"^== (\w[\w ]*)\n(.*?)(?=^== |\Z)", out, flags=re.M | re.S))
    assert re.search(r"rankinv\.planted_bridge -> rankinv\.daemon\.control \(l\.\d+\)  rankinv/planted_bridge\.py:\d+",
                     sections["import contracts"]), out
    assert "All checks passed!" in out and "Success: no issues found" in out, out  # ruff and mypy
    assert not re.search(r"Found \d+ errors?", out), out
    assert re.search(r"\b\d+ passed\b", sections["pytest"]) and "failed" not in sections["pytest"], out
