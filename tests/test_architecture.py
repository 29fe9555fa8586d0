"""The layout holds: production code never imports the sandbox, and the packages import each other
without a cycle (every import counts, also those inside functions)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ("bot", "handlers", "playbooks")
OURS = (*PRODUCTION, "sandbox")


def _modules(package: str) -> list[tuple[str, Path]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in OURS}


def _unit(module: str) -> str:
    """The unit the layout speaks of: a package of ``bot`` (or one of its top modules), or a top package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bot" and len(parts) > 1 else parts[0]


def _graph() -> dict[str, set[str]]:
    known = {_unit(name) for package in OURS for name, _ in _modules(package)}
    edges: dict[str, set[str]] = defaultdict(set)
    for package in PRODUCTION:
        for name, path in _modules(package):
            for imported in _imports(path):
                target = _unit(imported)
                if target not in known:  # ``from bot import x`` names a module: take its unit
                    target = _unit(".".join(imported.split(".")[:2]))
                if target != _unit(name) and target in known:
                    edges[_unit(name)].add(target)
    return edges


@pytest.mark.parametrize("package", PRODUCTION)
def test_production_code_never_imports_the_sandbox(package):
    offenders = [f"{name}: {imported}" for name, path in _modules(package) for imported in _imports(path)
                 if imported.split(".")[0] == "sandbox"]
    assert offenders == []


def test_the_packages_import_each_other_without_a_cycle():
    edges = _graph()
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                cycles.append([*path[path.index(nxt):], nxt])
            elif len(path) < 30:
                visit(nxt, [*path, nxt])

    for start in sorted(edges):
        visit(start, [start])
    assert cycles == []


def test_the_graph_sees_real_edges():
    """The scan is not blind: the composition root depends on the handlers, the handlers on the domains."""
    edges = _graph()
    assert {"handlers", "playbooks", "bot.incidents", "bot.changes"} <= edges["bot.main"]
    assert "bot.main" not in edges["handlers"]
    assert "bot.incidents" not in edges["bot.changes"]  # changes tell incidents through a callback


def test_the_bot_package_holds_a_handful_of_modules_and_documented_packages():
    top_modules = sorted(p.name for p in (ROOT / "bot").glob("*.py") if p.name != "__init__.py")
    assert len(top_modules) <= 8, top_modules
    packages = [p for p in (ROOT / "bot").iterdir() if (p / "__init__.py").exists()]
    undocumented = [p.name for p in packages if ast.get_docstring(ast.parse((p / "__init__.py").read_text())) is None]
    assert undocumented == []
