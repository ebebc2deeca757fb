"""The package's layout: every module on its floor, imports only downward, no loops.

Imports are read from the source (every ``import`` statement, at module level, inside
functions and under ``TYPE_CHECKING``), so an import hidden in a function to dodge a loop
counts as much as one at the top. Importing ``a.b.c`` also executes the package ``a.b`` (its
``__init__``), so that counts as imported too, except from inside ``a.b`` itself (the package
is already being imported then) and for the root packages, the public facades.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tissue", "gpu_kernels", "viz")
MAX_LINES = 600

# Bottom to top (../shared/DESIGN.md, "Layers"). A module may import modules of its own floor
# or below, never above; a module not listed takes the floor of its nearest listed package.
FLOORS = {
    "gpu_kernels": 1,
    "tissue.errors": 1,
    "tissue.grid": 1,
    "tissue.limits": 1,
    "tissue.signals": 1,
    "tissue.state": 1,
    "tissue.backend": 2,
    "tissue.kernels": 2,
    "tissue.config": 2,
    "tissue.cells": 3,
    "tissue.attributes": 4,
    "tissue.tables": 4,
    "tissue.fields": 3,
    "tissue.generators": 3,
    "tissue.rng": 3,
    "tissue.schedule": 3,
    "tissue.volume": 3,
    "tissue.solver": 3,
    "tissue.geometry": 4,
    "tissue.io": 4,
    "tissue.organ": 5,
    "tissue.rules": 6,
    "tissue.attack": 6,
    "tissue.chemotaxis": 6,
    "tissue.phagocytosis": 6,
    "tissue.behaviours": 6,
    "tissue.placement": 6,
    "tissue.observables": 6,
    "tissue.io.multicellds": 6,  # PhysiCell output: cell volumes from the types' volume model
    "tissue.body": 7,
    "tissue.simulation": 8,
    "tissue.observers": 9,
    "tissue.runner": 9,
    "tissue.report": 9,
    "tissue.console": 9,
    "tissue.cli": 10,
    "tissue.sweep": 10,
    "tissue": 10,
    "viz": 11,
}


def modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the packages."""
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (and the packages that importing them runs)."""
    tree = ast.parse(path.read_text())
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                child = f"{module}.{alias.name}"
                targets.add(child if child in known else module)
    own = {".".join(package[:depth]) for depth in range(1, len(package) + 1)}
    out = set()
    for target in targets:
        parts = target.split(".")
        for depth in range(2, len(parts) + 1):  # the packages on the way, not the root
            prefix = ".".join(parts[:depth])
            if prefix in known and prefix not in own:
                out.add(prefix)
        if target in known:
            out.add(target)
    out.discard(name)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def floor(name: str) -> int:
    parts = name.split(".")
    for depth in range(len(parts), 0, -1):
        prefix = ".".join(parts[:depth])
        if prefix in FLOORS:
            return FLOORS[prefix]
    raise AssertionError(f"{name} has no floor in FLOORS")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(graph()) == []


def test_the_loop_finder_finds_loops() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_and_relative_imports_are_seen(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from tissue.io.runfile import RunReader\n    from . import x\n"
    )
    known = {"tissue.io": Path(), "tissue.io.runfile": Path(), "tissue.kernels.x": Path()}
    assert imported("tissue.kernels.m", source, known) == {
        "tissue.io",
        "tissue.io.runfile",
        "tissue.kernels.x",
    }


def test_imports_go_down_the_floors() -> None:
    upward = [
        f"{name} (floor {floor(name)}) imports {target} (floor {floor(target)})"
        for name, targets in graph().items()
        for target in sorted(targets)
        if floor(target) > floor(name)
    ]
    assert upward == []


@pytest.mark.parametrize("package", ["tissue", "gpu_kernels", "viz"])
def test_every_module_says_what_it_owns_and_stays_short(package: str) -> None:
    for name, path in modules().items():
        if not name.startswith(package):
            continue
        text = path.read_text()
        if not text.strip():
            continue  # an empty package marker (tissue/scenarios, tissue/sweeps)
        assert ast.get_docstring(ast.parse(text)), f"{path} has no opening docstring"
        if package == "tissue":
            lines = text.count("\n")
            assert lines <= MAX_LINES, f"{path}: {lines} lines > {MAX_LINES}"
