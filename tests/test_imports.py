"""The package's import graph: no cycles, and private names stay in their module.

The graph is read from the source with :mod:`ast`, function-level imports included (an import
inside a function hides a cycle from Python, not from a reader). A name with a leading
underscore may be imported from a private module's namespace only by that module's own
package internals listed in ``ALLOWED``; importing a private *module* (``from .. import
_flops``) is how a package shares its internals, and is fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lsqnet

ROOT = Path(lsqnet.__file__).parent

#: (importing module, imported module, name): underscore names imported across modules on
#: purpose. Empty: every shared helper has a public name in a private module.
ALLOWED: frozenset[tuple[str, str, str]] = frozenset()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of the module a ``from ... import`` reads from."""
    if node.level == 0:
        return node.module or ""
    package = module if _is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _imports(module: str) -> list[tuple[str, str | None]]:
    """``(imported module, name or None)`` for every import of ``module``, inside the package."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:  # ``from pkg import submodule``
                    found.append((submodule, None))
                else:
                    found.append((source, alias.name))
    return [(target, name) for target, name in found if target in MODULES]


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles() -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in {t for t, _ in GRAPH[node] if t != node}:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    return components


def test_the_graph_sees_the_package():
    assert "lsqnet.estimators._base" in MODULES and "lsqnet.features.patches" in MODULES
    assert ("lsqnet.features", "make_feature_map") in GRAPH["lsqnet.network"]
    assert ("lsqnet._flops", None) in GRAPH["lsqnet.network"]
    # a function-level import is an edge too
    assert ("lsqnet._torch", "to_torch") in GRAPH["lsqnet.estimators._base"]


def test_no_import_cycles():
    assert _cycles() == []


def test_a_cycle_would_be_found(monkeypatch):
    monkeypatch.setitem(
        GRAPH, "lsqnet.features.windows",
        [*GRAPH["lsqnet.features.windows"], ("lsqnet.network", "Network")],
    )
    assert ["lsqnet.features", "lsqnet.features.contrasts", "lsqnet.features.patches",
            "lsqnet.features.windows", "lsqnet.network"] in _cycles()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_private_names_stay_in_their_module(module):
    crossing = [
        (target, name) for target, name in GRAPH[module]
        if name is not None and name.startswith("_") and not name.startswith("__")
        and target != module and (module, target, name) not in ALLOWED
    ]
    assert crossing == []
