"""The package reads top-down: every import goes to an earlier layer, and no import cycles.

The layers are those of ``docs/layout.md``. Imports are read with ``ast`` (module-level and
inside functions), so a lazy import cannot hide a dependency.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "agreement_core"

#: Module (or package) prefix -> layer; a module belongs to the longest prefix that matches.
LAYERS = {
    "agreement_core": 0, "agreement_core.errors": 0, "agreement_core._io": 0,
    "agreement_core.locations": 0,
    "agreement_core.data": 1,
    "agreement_core.models": 2,
    "agreement_core.training": 3,
    "agreement_core.records": 4, "agreement_core.recorder": 4, "agreement_core.integrations": 4,
    "agreement_core.agreement": 5, "agreement_core.statistics": 5, "agreement_core.scores": 5,
    "agreement_core.gradients": 5,
    "agreement_core.correlation": 6, "agreement_core.report": 6, "agreement_core.findings": 6,
    "agreement_core.claims": 6, "agreement_core.order": 6, "agreement_core.hacohen": 6,
    "agreement_core.plots": 7, "agreement_core.widgets": 7,
    "agreement_core.study": 8,
    "agreement_core.cli": 9, "agreement_core.__main__": 9,
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(name: str, path: Path, modules) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [f"{target}.{alias.name}" for alias in node.names] + [target]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        # ``from . import locations`` imports the module, not the package.
        target = next((c for c in candidates if c in modules), None)
        if target and target != name:
            found.add(target)
    return found


def _layer(name: str) -> int:
    prefix = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def _is_reexport(a: str, b: str, modules) -> bool:
    """A package's ``__init__`` importing its own submodule (or the reverse): not a layer edge."""
    return (b.startswith(a + ".") and modules[a].name == "__init__.py") or \
        (a.startswith(b + ".") and modules[b].name == "__init__.py")


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return modules, {name: {t for t in _imports(name, path, modules)
                            if not _is_reexport(name, t, modules)}
                     for name, path in modules.items()}


def test_every_import_goes_down_the_layers(graph):
    _, edges = graph
    upward = [f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
              for a, targets in edges.items() for b in targets if _layer(b) > _layer(a)]
    assert not upward, "\n".join(upward)


def test_no_import_cycles(graph):
    _, edges = graph
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join(
                    path[path.index(target):] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_training_does_not_know_the_record_store(graph):
    _, edges = graph
    for name, targets in edges.items():
        if name.startswith("agreement_core.training"):
            assert not {t for t in targets if _layer(t) > 3}, name
