"""Every import in ``src/vocable`` points down the layers (docs/architecture.md)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
TOP = ("api", "cli")
"""The HTTP routes and the command line: nothing else may import them."""


def imports() -> dict[str, set[str]]:
    """Each module of ``vocable`` and the ``vocable`` modules it imports (absolute names)."""
    found: dict[str, set[str]] = {}
    for path in (SRC / "vocable").rglob("*.py"):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        if ".migrations." in module:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[module] = {n for n in names if n.startswith("vocable.")}
    return found


def package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def in_package(module: str, packages: tuple[str, ...]) -> bool:
    return package(module) in packages


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        for name in sorted(imported):
            target = package(name)
            if target in TOP and not in_package(module, TOP):
                found.append(f"{module} imports {name}: only api/ and cli/ may")
            if in_package(module, ("contracts",)) and target not in ("contracts",):
                found.append(f"{module} imports {name}: contracts/ import nothing above them")
            if in_package(module, ("providers",)) and target in ("worker", "services", *TOP):
                found.append(f"{module} imports {name}: engines sit under the worker")
    return found


def package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of packages (a cycle means no floor order exists)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imported in graph.items():
        for name in imported:
            if package(module) != package(name):
                edges[package(module)].add(package(name))
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(edges):
        if node not in order:
            visit(node)
    return cycles


def test_no_import_runs_up_a_layer() -> None:
    assert violations(imports()) == []


def test_packages_import_each_other_without_cycles() -> None:
    assert package_cycles(imports()) == []


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("vocable.worker.call", "vocable.api.schemas"),
        ("vocable.voices.service", "vocable.api.errors"),
        ("vocable.contracts.sessions", "vocable.settings"),
        ("vocable.providers.registry", "vocable.worker.channel"),
    ],
)
def test_a_forbidden_import_is_reported(module: str, name: str) -> None:
    graph = imports()
    graph[module] = graph.get(module, set()) | {name}
    assert any(v.startswith(f"{module} imports {name}") for v in violations(graph))


def test_an_import_cycle_is_reported() -> None:
    graph = imports()
    graph["vocable.contracts.fields"] = graph["vocable.contracts.fields"] | {"vocable.worker"}
    assert package_cycles(graph)
