"""The shape of the house: no import cycle among envkit's modules, docker only under engine/.

Every import counts, wherever it is written: at module level, inside a function (a lazy
import still makes the two modules depend on each other) and under ``if TYPE_CHECKING:``.
A package's ``__init__`` is a module like any other. Importing ``a.b.c`` is an edge to
``a.b.c`` only: the parents Python runs first are not counted, or every package would be
a cycle with its own modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "envkit"


def _modules() -> dict[str, Path]:
    """``envkit.x.y`` -> its file, for every module of the package (``__init__`` as the package)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """Every module ``name`` imports (any level), as (absolute name, line)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                # ``from . import spec`` imports the module envkit.spec; ``from . import x`` of a
                # plain name imports the package itself.
                sub = f"{module}.{alias.name}"
                out.append((sub if sub in MODULES else module, node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, _ in _imports(name, path):
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_lazy_and_type_checking_imports(tmp_path):
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import X\n"
              "def f():\n    from ..engine import images\n    import envkit.spec\n")
    path = tmp_path / "a.py"
    path.write_text(source)
    found = {target for target, _ in _imports("envkit.build.a", path)}
    assert {"envkit.build.b", "envkit.engine.images", "envkit.spec"} <= found
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_envkit_modules():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles among envkit modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _docker_importers() -> list[str]:
    wrong = []
    for name, path in MODULES.items():
        if name == "envkit.engine" or name.startswith("envkit.engine."):
            continue
        for target, line in _imports(name, path):
            if target == "docker" or target.startswith("docker."):
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    return wrong


def test_docker_is_imported_only_under_engine():
    wrong = _docker_importers()
    assert not wrong, "\n".join(wrong)


def _names_from(path: Path, module: str) -> set[str]:
    """The names imported from ``module`` (relative form, e.g. ``..settings``) in ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and "." * node.level + (node.module or "") == module:
            names |= {alias.name for alias in node.names}
    return names


@pytest.mark.parametrize(("room", "settings"), [("envkit.plan", ".settings"), ("envkit.dockerfile", "..settings")])
def test_plan_and_dockerfile_do_no_io(room, settings):
    """plan decides and dockerfile renders: neither asks the engine, runs a process or reads the environment."""
    forbidden = ("os", "subprocess", "docker", "envkit.engine", "envkit.build")
    for name, path in MODULES.items():
        if name != room and not name.startswith(room + "."):
            continue
        for target, line in _imports(name, path):
            assert not any(target == f or target.startswith(f + ".") for f in forbidden), \
                f"{path.name}:{line} imports {target}"
        assert _names_from(path, settings) <= {"PipSettings"}, f"{path.name} reads settings itself"


def test_no_test_switch_in_product_code():
    """Tests reach envkit through public settings (ENVKIT_LABELS), never a test-only variable."""
    found = [str(p.relative_to(PACKAGE.parent)) for p in MODULES.values() if "ENVKIT_TEST" in p.read_text()]
    assert not found, found
