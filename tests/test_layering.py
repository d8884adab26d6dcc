"""The layering a reader can see: each module imports only its own layer or the layers below, with no cycles.

Bottom to top (docs/architecture.md):

0. ``core``: typed records and the user-error type (standard library only);
1. ``indexers`` and ``rerank``: index components and MaxSim kernels (``indexers`` may use ``rerank``'s store and
   kernels, never the other way);
2. ``rag``: the pipeline (loaders, cleaning, dedupe, passages, encoders, ingest, planner, answers);
3. the entry points ``api`` and ``evals`` (neither imports the other);
4. ``rag.cli``, the ``latte`` command, which dispatches to all of them (``latte serve``, ``latte eval``); it stays
   at its old path so ``latte = "rag.cli:main"`` holds, and nothing imports it.

Imports are read with ``ast`` from the source (nothing is imported), at module level and inside functions alike: a
deferred import is still a dependency. The one kind of cycle allowed is a module and its ``*_jit`` kernel half:
the kernel takes its constants from the module, and the module imports the kernel on first use because importing
numba and loading its compiled cache is heavy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "indexers", "rerank", "rag", "api", "evals")
ENTRY_MODULES = {"rag.cli"}  # entry points living inside a lower package

# what each layer may import (its own package included)
ALLOWED = {
    "core": {"core"},
    "rerank": {"core", "rerank"},
    "indexers": {"core", "rerank", "indexers"},
    "rag": {"core", "rerank", "indexers", "rag"},
    "entry": {"core", "rerank", "indexers", "rag", "api", "evals", "entry"},
    "api": {"core", "rerank", "indexers", "rag", "api"},
    "evals": {"core", "rerank", "indexers", "rag", "evals"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


MODULES = source_modules()


def layer(module: str) -> str:
    if module in ENTRY_MODULES:
        return "entry"
    return module.split(".")[0]


def imports_of(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports: ``from pkg import sub`` counts as ``pkg.sub`` when that is a module
    (importing a submodule runs its package's ``__init__``, which is not a dependency the importer chose)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    out.add(sub)
                elif base in MODULES:
                    out.add(base)
    out.discard(module)
    return out


GRAPH = {m: imports_of(m, p) for m, p in MODULES.items()}


def _is_kernel_pair(a: str, b: str) -> bool:
    return a == b + "_jit" or b == a + "_jit"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
    return found


def test_the_walk_sees_every_package():
    assert {m.split(".")[0] for m in MODULES} == set(PACKAGES)
    assert "rag.planner" in GRAPH["rag.service"] and "core.records" in GRAPH["indexers.docstore"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    mine = layer(module)
    wrong = sorted(t for t in GRAPH[module] if layer(t) not in ALLOWED[mine])
    assert not wrong, f"{module} (layer {mine}) imports {wrong}; it may import only {sorted(ALLOWED[mine])}"


def test_core_imports_only_the_standard_library():
    import sys

    for module, path in MODULES.items():
        if not module.startswith("core"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "core", f"{module} imports {name}"


def test_no_import_cycles():
    graph = {m: {t for t in targets if not _is_kernel_pair(m, t)} for m, targets in GRAPH.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
