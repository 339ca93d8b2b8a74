"""The architecture, checked: imports point downwards, no cycles, small modules, public edges.

Every ``import`` of every module under ``linker/`` is read from its syntax tree, the ones
inside functions included (a function-level import hides a cycle from Python, not from this
test); imports under ``if TYPE_CHECKING:`` are left out, as they never run. The layers, top to
bottom (see docs/architecture.md); a module may import its own layer or any layer below:

1. ``linker.cli`` (and ``app/``, which is outside the package)
2. ``linker`` (the lazy top level), ``linker.api``
3. ``linker.pipeline``, ``linker.schema``, ``linker.taxonomy``, ``linker.review``
4. ``linker.blocking``, ``linker.scoring``, ``linker.decide``, ``linker.rerank``, ``linker.llm``,
   ``linker.backend``
5. ``linker.vectors``, ``linker.data``
6. ``linker.frames``, ``linker.io``, ``linker.measures``, ``linker.errors``, ``linker.argcheck``,
   ``linker.protocols``, ``linker._progress``, ``linker._kernels``, ``linker._lazy``,
   ``linker._params``
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "linker"
MAX_LINES = 600

LAYERS: dict[str, int] = {
    "linker.cli": 1,
    "linker.__main__": 1,
    "linker": 2,
    "linker.api": 2,
    **dict.fromkeys(["linker.pipeline", "linker.schema", "linker.taxonomy", "linker.review"], 3),
    **dict.fromkeys(
        [
            "linker.blocking",
            "linker.scoring",
            "linker.decide",
            "linker.rerank",
            "linker.llm",
            "linker.backend",
        ],
        4,
    ),  # fmt: skip
    **dict.fromkeys(["linker.vectors", "linker.data"], 5),
    **dict.fromkeys(
        [
            "linker.frames",
            "linker.io",
            "linker.measures",
            "linker.errors",
            "linker.argcheck",
            "linker.protocols",
            "linker._progress",
            "linker._kernels",
            "linker._lazy",
            "linker._params",
        ],
        6,
    ),  # fmt: skip
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _imports(path: Path) -> list[tuple[str, str, int]]:
    """``(module, name, line)`` of each linker import in ``path`` (name ``""`` for ``import``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    out: list[tuple[str, str, int]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "linker" or node.module.startswith("linker."):
                out += [(node.module, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [
                (a.name, "", node.lineno)
                for a in node.names
                if a.name == "linker" or a.name.startswith("linker.")
            ]
    return out


def _edges() -> dict[str, set[str]]:
    """Module -> the linker modules it imports (``from pkg import submodule`` counts as one)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for module, imported, _ in _imports(path):
            sub = f"{module}.{imported}"
            targets.add(sub if sub in MODULES else module)
        targets.discard(name)
        edges[name] = targets
    return edges


def _layer(module: str) -> int:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in LAYERS:
            return LAYERS[".".join(parts[:i])]
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layering.py")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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
    return found


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        _layer(name)


def test_no_import_cycles() -> None:
    cycles = _cycles(_edges())
    assert not cycles, "import cycles (function-level imports included): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_imports_point_downwards() -> None:
    upward = [
        f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
        for module, targets in _edges().items()
        for target in sorted(targets)
        if target in MODULES and _layer(target) < _layer(module)
    ]
    assert not upward, "imports that point upwards:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "app").glob("*.py")) + sorted((PACKAGE / "cli").glob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_app_and_cli_use_public_names_only(path: Path) -> None:
    private = [
        f"{path.relative_to(ROOT)}:{line}: {module}.{name}".rstrip(".")
        for module, name, line in _imports(path)
        if name.startswith("_") or any(p.startswith("_") for p in module.split("."))
    ]
    assert not private, "private names imported by the CLI or the app:\n" + "\n".join(private)


def test_modules_stay_small() -> None:
    big = {
        str(path.relative_to(ROOT)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines (split them by role): {big}"


def test_the_checks_can_fail() -> None:
    """The cycle finder and the layer order catch what they are meant to catch."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _layer("linker.vectors.ann") > _layer("linker.pipeline.linker") > _layer("linker.cli")
