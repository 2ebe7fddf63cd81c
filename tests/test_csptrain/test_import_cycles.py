"""No module of either package imports itself back through others: no import circle.

Module-level imports count, also under ``if TYPE_CHECKING:`` (a circle that only the type
checker walks still ties the modules together); imports inside functions, made late on
purpose, do not. Issue 30 found ``csptrain.data.crop_window`` and ``stage2`` importing each
other this way; the records they share now live in ``csptrain.data.geometry``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports outside function and class bodies (in ``if`` and ``try`` blocks too)."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.Try):
            pending.extend([*node.body, *node.orelse, *getattr(node, "finalbody", [])])
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)


def imported(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` imports at module level."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            # ``from a import b`` imports module a.b when b is a module
            candidates = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        found.update(c for c in candidates if c in modules and c != name)
    return found


def circles(package: str) -> list[list[str]]:
    """Strongly connected groups of more than one module in ``package``'s import graph (Tarjan)."""
    paths = {module_name(p): p for p in (ROOT / package).rglob("*.py")}
    graph = {name: imported(path, set(paths)) for name, path in paths.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", ["csptrain", "scribblesim"])
def test_no_import_circle(package: str) -> None:
    assert circles(package) == []


def test_the_circle_detector_sees_type_checking_imports() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\ndef f():\n    import c\n"
    )
    names = [n.module or n.names[0].name for n in top_level_imports(tree)]
    assert sorted(names) == ["b", "typing"]
