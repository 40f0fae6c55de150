"""The layout's rules, checked on the source: no import cycle (also none hidden in a
function), no module longer than a few screens, the public API declared in every public
module. A newcomer reads the package from the ground floor up; these keep it readable so."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "st_twofactor"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """The st_twofactor modules ``module`` imports when it runs, wherever the import
    statement is (functions included); imports only for type checkers left out."""
    for block in [n for n in ast.walk(tree) if isinstance(n, ast.If) and _is_type_checking(n)]:
        block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in MODULES else target


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = _imports(tree, name, path.name == "__init__.py")
        graph[name] = {t for t in found if t in MODULES and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check below can fail: a two-module and a three-module cycle are found."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert _cycles(graph) == [["a", "b"], ["c", "d", "e"]]


def test_the_import_finder_sees_imports_in_functions_but_not_type_checking_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from st_twofactor import config\n"
        "def f():\n    from st_twofactor.kernel import throttle\n"
    )
    found = set(_imports(ast.parse(source), "st_twofactor.x", False))
    assert "st_twofactor.kernel.throttle" in found
    assert "st_twofactor.config" not in found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_library_does_not_import_its_own_public_facade() -> None:
    """``st_twofactor/__init__.py`` imports the library; the library never imports it
    back (that would make every module depend on every other)."""
    graph = _graph()
    offenders = sorted(m for m, targets in graph.items() if "st_twofactor" in targets)
    assert offenders == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_longer_than_a_few_screens(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it by concept"


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split(".")) and name != "st_twofactor"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _public(n)))
def test_every_public_module_declares_its_api(name: str) -> None:
    """A module whose path has no ``_`` part is public: it says what it offers in ``__all__``
    (a package's ``__init__`` that only documents the package declares an empty one)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    declared = any(
        isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(
            isinstance(t, ast.Name) and t.id == "__all__"
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        for node in tree.body
    )
    assert declared, f"{name} has no __all__"


def test_importing_the_library_loads_no_framework_and_no_optional_extra() -> None:
    """``import st_twofactor`` (and its stores package) must work without the extras and not
    pay for them: frameworks, Redis, SQLAlchemy and py_webauthn load only where used."""
    import subprocess
    import sys

    optional = ("fastapi", "flask", "django", "redis", "sqlalchemy", "webauthn")
    code = (
        "import sys, st_twofactor, st_twofactor.stores\n"
        f"print(','.join(m for m in {optional!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
