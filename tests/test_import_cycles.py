"""No import circle inside molgen/: read statically (ast), every import counts, lazy ones in functions too.

A module that imports one which imports it back (directly or through others) works only as long as
the imports stay inside functions, and hides which layer depends on which (DESIGN.md: data flows
one way). The parent packages Python imports on the way (``molgen.a`` for ``molgen.a.b``) are not
edges: only what a file names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import molgen

ROOT = Path(molgen.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The molgen modules ``path`` names in an import statement anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from molgen.x import y`: y may be a module of its own
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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


def _path_within(graph: dict[str, set[str]], component: list[str]) -> str:
    """One concrete circle through the component's first module, for the failure message."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return " -> ".join([start, *reversed(chain[:-1]), start])
            if child not in previous:
                previous[child] = node
                frontier.append(child)
    return ", ".join(component)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_import_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "molgen.sampling_backbone" in graph["molgen.commands.sample"]  # an import inside run()
    assert "molgen.sampling_common" in graph["molgen.sampling_backbone"]


def test_cycle_finder_reports_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _path_within(graph, ["a", "b", "c"]) == "a -> b -> c -> a"


def test_no_module_in_molgen_imports_one_that_imports_it_back():
    graph = import_graph()
    circles = [_path_within(graph, c) for c in _cycles(graph)]
    assert not circles, "import circles in molgen/:\n" + "\n".join(circles)


def test_only_the_entry_points_import_the_commands():
    """``molgen/commands/`` parses configs and calls down; the library never calls up into it."""
    entry_points = {"molgen.cli", "molgen.cli_help"}
    upward = sorted(f"{name} -> {dep}" for name, deps in import_graph().items()
                    if name not in entry_points and not name.startswith("molgen.commands")
                    for dep in deps if dep.startswith("molgen.commands"))
    assert upward == [], "library modules importing molgen.commands:\n" + "\n".join(upward)
