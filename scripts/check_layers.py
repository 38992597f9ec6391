"""Check that engine/ keeps its layers: no import circles, imports only in the stated direction, no first-party
import hidden inside a function, no module over 400 lines.

    python scripts/check_layers.py [ROOT]     (ROOT: the engine folder; default: engine/ next to this script)

Layers, and what each may import (DESIGN.md, docs/architecture.md):

    cli            everything below it
    report         decide, policy, adapters, model, base
    integrations   state, decide, policy, adapters, model, base
    state          decide, policy, model, base
    decide         policy, model, base
    policy         model, base
    adapters       model, base
    model          base
    base           (_errors, _version) nothing of dlrpolicy

The package's faces (``__init__``, ``__main__``, ``tenacity``) only re-export and may import any layer; no
module may import a face.  An import inside a function is allowed only with a comment that says why it is
deferred (start-up time), on its line or the line above: ``# deferred: ...``.  Exit status 1 when anything is
reported, 0 otherwise.  Standard library only (ast).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

PACKAGE = "dlrpolicy"
MAX_LINES = 400
FACES = frozenset({"dlrpolicy", "dlrpolicy.__main__", "dlrpolicy.tenacity"})
ALLOWED: Mapping[str, frozenset[str]] = {
    "base": frozenset({"base"}),
    "model": frozenset({"base", "model"}),
    "adapters": frozenset({"base", "model", "adapters"}),
    "policy": frozenset({"base", "model", "policy"}),
    "decide": frozenset({"base", "model", "policy", "decide"}),
    "state": frozenset({"base", "model", "policy", "decide", "state"}),
    "integrations": frozenset({"base", "model", "adapters", "policy", "decide", "state", "integrations"}),
    "report": frozenset({"base", "model", "adapters", "policy", "decide", "report"}),
    "cli": frozenset({"base", "model", "adapters", "policy", "decide", "state", "integrations", "report", "cli"}),
}
ORDER = ("cli", "report", "integrations", "state", "decide", "policy", "adapters", "model", "base")


class Edge(NamedTuple):
    """One import of a first-party module: who imports what, on which line, and whether at module level."""

    source: str
    target: str
    line: int
    top_level: bool
    deferred: bool


def module_name(root: Path, path: Path) -> str:
    """``engine/policy/_compile.py`` -> ``dlrpolicy.policy._compile`` (``__init__`` names its package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def layer_of(module: str) -> str:
    """The layer a module belongs to (``face`` for the package's re-exporting faces)."""
    if module in FACES:
        return "face"
    parts = module.split(".")
    # A layer is a folder (dlrpolicy.policy and everything in it); the private top-level modules are the base.
    return parts[1] if parts[1] in ALLOWED else "base"


def _is_package(root: Path, module: str) -> bool:
    return (root.joinpath(*module.split(".")[1:]) / "__init__.py").exists()


def _resolve(root: Path, module: str, node: ast.ImportFrom | ast.Import, known: set[str]) -> Iterator[str]:
    """The first-party modules an import statement loads."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                yield alias.name
        return
    if node.level:
        base = module.split(".")
        if not _is_package(root, module):
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
        target = node.module
    else:
        return
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        yield sub if sub in known else target


def _comment_says_deferred(lines: Sequence[str], line: int) -> bool:
    return any(1 <= number <= len(lines) and "# deferred" in lines[number - 1] for number in (line, line - 1))


def read_edges(root: Path) -> tuple[list[Edge], dict[str, int]]:
    """Every first-party import under ``root``, and each module's line count."""
    paths = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    known = {module_name(root, p) for p in paths}
    edges: list[Edge] = []
    sizes: dict[str, int] = {}
    for path in paths:
        module = module_name(root, path)
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        sizes[module] = len(lines)
        tree = ast.parse(text, filename=str(path))
        top = {id(node) for node in tree.body}
        # Imports under `if TYPE_CHECKING:` or `try:` at module level still run at import time (or matter to the
        # type checker): count every statement whose nearest enclosing function is none as top level.
        in_function: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                in_function.update(id(child) for child in ast.walk(node) if child is not node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                top_level = id(node) in top or id(node) not in in_function
                for target in _resolve(root, module, node, known):
                    if target != module:
                        edges.append(Edge(module, target, node.lineno, top_level,
                                          _comment_says_deferred(lines, node.lineno)))
    return edges, sizes


def cycles(edges: Sequence[Edge]) -> list[list[str]]:
    """Strongly connected components of the module-level import graph with more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.top_level:
            graph.setdefault(edge.source, set()).add(edge.target)
            graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Iterative Tarjan: deep import chains must not hit the recursion limit.
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def against_direction(edges: Sequence[Edge]) -> list[Edge]:
    """Imports that run against the layer order (or into a face)."""
    wrong = []
    for edge in edges:
        source, target = layer_of(edge.source), layer_of(edge.target)
        if target == "face" or (source != "face" and target not in ALLOWED.get(source, frozenset())):
            wrong.append(edge)
    return wrong


def hidden(edges: Sequence[Edge]) -> list[Edge]:
    """First-party imports inside functions that do not say why they are deferred."""
    return [edge for edge in edges if not edge.top_level and not edge.deferred]


def layer_graph(edges: Sequence[Edge]) -> dict[str, set[str]]:
    """Layer -> the other layers it imports."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        source, target = layer_of(edge.source), layer_of(edge.target)
        if source != target:
            graph.setdefault(source, set()).add(target)
    return graph


def report(root: Path) -> tuple[str, bool]:
    """The printed report and whether it found anything wrong."""
    edges, sizes = read_edges(root)
    found_cycles = cycles(edges)
    wrong = against_direction(edges)
    secret = hidden(edges)
    big = sorted((module, n) for module, n in sizes.items() if n > MAX_LINES)
    out = [f"{len(sizes)} modules, {len(edges)} first-party imports under {root}"]
    graph = layer_graph(edges)
    out.append("layers (who imports whom):")
    for layer in ("face", *ORDER):
        if layer in graph:
            targets = sorted(graph[layer], key=lambda t: ORDER.index(t) if t in ORDER else -1)
            out.append(f"  {layer:<13} -> {', '.join(targets)}")
    out.append(f"import circles: {len(found_cycles) or 'none'}")
    out += [f"  {' <-> '.join(component)}" for component in found_cycles]
    out.append(f"imports against the layer direction: {len(wrong) or 'none'}")
    out += [f"  {e.source}:{e.line} ({layer_of(e.source)}) imports {e.target} ({layer_of(e.target)})" for e in wrong]
    out.append(f"imports hidden inside functions: {len(secret) or 'none'}")
    out += [f"  {e.source}:{e.line} imports {e.target} (move it to the top, or say '# deferred: why')"
            for e in secret]
    out.append(f"modules over {MAX_LINES} lines: {len(big) or 'none'}")
    out += [f"  {module} ({n} lines)" for module, n in big]
    return "\n".join(out), bool(found_cycles or wrong or secret or big)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report for ROOT (default: the engine folder); 1 when anything is wrong."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "engine"
    if not (root / "__init__.py").is_file():
        print(f"check_layers: {root} is not a package folder (no __init__.py): pass the engine folder",
              file=sys.stderr)
        return 2
    text, bad = report(root)
    print(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
