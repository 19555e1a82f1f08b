"""Keep pyproject.toml honest as modules are added: packages listed, import contracts complete."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Core modules allowed to import torch/transformers lazily (sampling backends, training callbacks).
HEAVY_CORE = {"rankinv.triage", "rankinv.integrations"}
# The CLI's composition root: the one core module that wires in the daemon and the TUI, left out of the contracts.
COMPOSITION_ROOT = "rankinv.cli"


def _packages_on_disk() -> set[str]:
    mapping = {"rankinv": ROOT / "rankinv", "rankinv.daemon": ROOT / "daemon", "rankinv.tui": ROOT / "tui"}
    found = set()
    for prefix, base in mapping.items():
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([prefix, *rel.parts]) if rel.parts else prefix)
    return found


def _core_top_level() -> set[str]:
    names = set()
    for path in (ROOT / "rankinv").iterdir():
        if path.name.startswith("_") or path.name == "data":
            continue
        if path.suffix == ".py" or (path / "__init__.py").exists():
            names.add(f"rankinv.{path.stem}")
    return names


def _contract(name_start: str) -> dict[str, list[str]]:
    for contract in PYPROJECT["tool"]["importlinter"]["contracts"]:
        if contract["name"].startswith(name_start):
            return contract
    raise AssertionError(f"no import contract starting {name_start!r}")


def test_every_package_is_listed_for_setuptools() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    missing = _packages_on_disk() - listed
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_every_core_module_is_under_the_ui_contract() -> None:
    listed = set(_contract("The core never imports the daemon")["source_modules"])
    missing = _core_top_level() - {COMPOSITION_ROOT} - listed
    assert not missing, f"add to the first import-linter contract: {sorted(missing)}"


def test_every_pure_core_module_is_under_the_heavy_contract() -> None:
    listed = set(_contract("The pure core never imports torch")["source_modules"])
    missing = _core_top_level() - HEAVY_CORE - {COMPOSITION_ROOT} - listed
    assert not missing, f"add to the second import-linter contract: {sorted(missing)}"


def test_the_composition_root_is_the_single_exception() -> None:
    """rankinv.cli is the only core module left out, and the only ignored imports are the two lazy triage entry
    points: a new exception has to be argued for here, not slipped into pyproject.toml."""
    assert COMPOSITION_ROOT in _core_top_level()
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    assert all(COMPOSITION_ROOT not in c["source_modules"] for c in contracts)
    ignored = [i for c in contracts for i in c.get("ignore_imports", [])]
    assert ignored == [f"rankinv.commands.{cmd} -> rankinv.triage.run" for cmd in ("triage", "calibrate")]


def test_every_contract_checks_indirect_imports() -> None:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    assert contracts
    lax = [c["name"] for c in contracts if c.get("allow_indirect_imports") is not False]
    assert not lax, f"set allow_indirect_imports = false in: {lax}"
