"""The shape of the product code: who may import whom, and how long a file may grow.

Read from the source (ast), module-level and function-level imports alike, so that a lazy import
inside a function counts as much as one at the top of a file; imports under `if TYPE_CHECKING:`
never run and are left out.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from commands.workspace import ROOT

PRODUCT = ("build.py", "commands", "pipeline", "report")
MOST_LINES = 500  # a file longer than this holds more than one concept
BUILD_MOST_LINES = 350  # build.py is the build; every other command lives in commands/
TORCH = {"torch", "torchvision", "captum"}  # captum is built on torch


@cache
def product_files() -> dict[str, Path]:
    """{module name: file} of every product module."""
    files = {}
    for top in PRODUCT:
        for path in [ROOT / top] if top.endswith(".py") else sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, top_level_only: bool) -> set[str]:
    """Every module name an import statement in the tree names, relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST, nested: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, nested)
            return
        if isinstance(node, ast.Import) and not (nested and top_level_only):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not (nested and top_level_only):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from report import cases`
        inside = nested or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


@cache
def imports(top_level_only: bool = False) -> dict[str, set[str]]:
    """{module: the names it imports}, internal and external."""
    graph = {}
    for module, path in product_files().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = _imports(tree, module, path.name == "__init__.py", top_level_only)
    return graph


def internal(top_level_only: bool = False) -> dict[str, set[str]]:
    """{module: the product modules it imports}."""
    known = product_files()
    return {m: {n for n in names if n in known and n != m} for m, names in imports(top_level_only).items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (depth-first search, colouring the stack)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _under(module: str, *tops: str) -> bool:
    return any(module == top or module.startswith(top + ".") for top in tops)


def test_find_cycle_finds_a_circle_and_nothing_in_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_relative_and_lazy_imports_are_both_read():
    tree = ast.parse("from . import style\ndef f():\n    from report.filters import label\n")
    assert {"report.figures.style", "report.filters"} <= _imports(tree, "report.figures", True, False)
    assert "report.filters" not in _imports(tree, "report.figures", True, True)


def test_product_code_has_no_import_circle():
    cycle = find_cycle(internal())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_pipeline_imports_neither_report_nor_commands():
    wrong = {
        m: sorted(n for n in names if _under(n, "report", "commands"))
        for m, names in internal().items()
        if _under(m, "pipeline")
    }
    assert not {m: n for m, n in wrong.items() if n}


def test_report_imports_neither_torch_nor_commands():
    wrong = {
        m: sorted(n for n in names if _under(n, "commands", *TORCH))
        for m, names in imports().items()
        if _under(m, "report")
    }
    assert not {m: n for m, n in wrong.items() if n}


def test_report_loads_no_module_that_imports_torch_when_loaded():
    """Module-level imports run when report/ loads: none of those it reaches may import torch."""
    graph, names = internal(top_level_only=True), imports(top_level_only=True)
    for start in (m for m in graph if _under(m, "report")):
        seen, todo = set(), [start]
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        torch_users = sorted(m for m in seen if any(_under(n, *TORCH) for n in names[m]))
        assert not torch_users, f"{start} loads {torch_users}, which import torch"


def test_no_product_file_is_too_long():
    lines = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in product_files().items()}
    too_long = {m: n for m, n in lines.items() if n > (BUILD_MOST_LINES if m == "build" else MOST_LINES)}
    assert not too_long, f"split these (at most {MOST_LINES} lines, build.py {BUILD_MOST_LINES}): {too_long}"
