"""No import by name dodges an import contract: import-linter only sees ``import`` statements, so the core may not
reach a rankinv module, Textual or watchdog through ``importlib``/``__import__`` strings, nor the daemon Textual."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a package may not load by name, by the folder it lives in (the contracts in pyproject.toml, plus: the
# core names no rankinv module at all, since it can import those with a statement the contracts see).
FORBIDDEN = {
    "rankinv": ("rankinv", "textual", "watchdog", "torch", "transformers", "vllm", "trl"),
    "daemon": ("rankinv.tui", "textual"),
}
HEAVY_OK = ("rankinv/triage/", "rankinv/integrations/")  # may load torch, transformers, vllm, trl lazily
HEAVY = ("torch", "transformers", "vllm", "trl")
# The only places a module name is computed at run time, and why.
COMPUTED_OK = {
    "rankinv/triage/rewards.py": "a user's reward function module, named in rankinv.toml or on the command line",
    "rankinv/triage/backends/vllm_backend.py": "vLLM's LoRARequest, from whichever vllm module was loaded",
}
LOADERS = {"import_module", "__import__", "find_spec"}


def _written(arg: ast.expr) -> tuple[str, bool] | None:
    """(the module name as written, whether it is only the literal start of an f-string); None when computed."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value, False
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value), True
    return None


def _loads(tree: ast.AST) -> list[tuple[int, tuple[str, bool] | None]]:
    """(line, what _written says) for every call that imports a module by name."""
    loaders = set(LOADERS)  # and the names they are bound to by `from importlib import import_module as load`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("importlib"):
            loaders |= {a.asname or a.name for a in node.names if a.name in LOADERS}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in loaders:
            out.append((node.lineno, _written(node.args[0])))
    return out


def _hits(written: tuple[str, bool], forbidden: str) -> bool:
    name, partial = written
    if name == forbidden or name.startswith(f"{forbidden}."):
        return True
    return partial and forbidden.startswith(name)  # f"rankinv.{x}" may well be rankinv.tui


def problems(rel: str, source: str) -> list[str]:
    """Why the module at ``rel`` (a path from the repository root) breaks the rule; empty when it keeps it."""
    forbidden = FORBIDDEN[rel.split("/", maxsplit=1)[0]]
    if rel.startswith(HEAVY_OK):
        forbidden = tuple(f for f in forbidden if f not in HEAVY)
    found = []
    for line, written in _loads(ast.parse(source)):
        if written is None:
            if rel not in COMPUTED_OK:
                found.append(f"{rel}:{line}: imports a computed module name")
        elif any(_hits(written, f) for f in forbidden):
            found.append(f"{rel}:{line}: imports {written[0]!r} by name; write an import statement the contracts see")
    return found


def _sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for d in FORBIDDEN for p in sorted((ROOT / d).rglob("*.py"))}


def test_no_core_or_daemon_module_imports_a_forbidden_module_by_name() -> None:
    sources = _sources()
    assert "rankinv/cli.py" in sources and "daemon/serve.py" in sources
    found = [msg for rel, text in sources.items() for msg in problems(rel, text)]
    assert not found, "\n".join(found)


def test_every_computed_import_allowed_is_still_there() -> None:
    sources = _sources()
    for rel in COMPUTED_OK:
        assert None in {w for _, w in _loads(ast.parse(sources[rel]))}, f"{rel}: drop it from COMPUTED_OK"


def test_the_check_sees_each_way_of_dodging() -> None:
    """The rule can fail: each of these planted lines is reported."""
    dodges = {
        "rankinv/commands/daemon.py": 'import importlib\nm = importlib.import_module("rankinv.daemon.cli_daemon")\n',
        "rankinv/assess.py": 'from importlib import import_module as load\nload(f"rankinv.tui.{x}")\n',
        "rankinv/stats.py": '__import__("textual.app")\n',
        "rankinv/monitor.py": 'import importlib.util\nimportlib.util.find_spec("watchdog.observers")\n',
        "rankinv/verdict.py": 'import importlib\nimportlib.import_module(name)\n',
        "rankinv/predict.py": 'import importlib\nimportlib.import_module("torch")\n',
        "daemon/serve.py": 'import importlib\nimportlib.import_module("rankinv.tui.app")\n',
        "daemon/lock.py": 'import importlib\nimportlib.import_module(f"rankinv.{part}")\n',
    }
    for rel, text in dodges.items():
        assert problems(rel, text), rel
    assert not problems("rankinv/triage/backends/vllm_backend.py", 'importlib.import_module("vllm")\n')
    assert not problems("daemon/pipeline/triage.py", 'importlib.util.find_spec("rankinv.triage.executors")\n')
