"""Fail when a module imports another in a circle (docs/ARCHITECTURE.md, "Contracts").

Usage: ``python tools/import_cycles.py [PACKAGE ...]`` (default: ledger api cli qr).

Builds the import graph of the packages with grimp (the graph import-linter checks), which
sees every import statement in a module: top level, inside functions and under
``if TYPE_CHECKING:``. So an import moved into a function to dodge a circle is still a
circle here, and so is one hidden behind ``TYPE_CHECKING`` (a design circle, even if it
never runs). import-linter's own ``acyclic_siblings`` contract compares squashed sibling
packages, which both misses a circle between a package's ``__init__`` and its children
and reports package-level circles that no module-level circle makes; this checks modules.

Prints every strongly connected component of more than one module, each with import
chains (``importer:line -> imported``) that together pass through all its modules, and
exits 1; prints one line and exits 0 when there is none; exits 2 on bad usage.
"""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import grimp

DEFAULT_PACKAGES = ("ledger", "api", "cli", "qr")

Graph = Mapping[str, frozenset[str]]


def import_graph(packages: Sequence[str]) -> tuple[grimp.ImportGraph, Graph]:
    """Return grimp's graph of ``packages`` and its adjacency (module -> modules it imports).

    Only modules inside ``packages`` appear; imports of anything else are dropped.
    """
    graph = grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)
    adjacency = {m: frozenset(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    return graph, adjacency


def strongly_connected(adjacency: Graph) -> list[list[str]]:
    """Return the strongly connected components of more than one module, each sorted.

    Tarjan's algorithm, iterative (a deep package would overflow Python's recursion);
    components come sorted by their first module, so the output is stable.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(adjacency):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(adjacency[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in adjacency:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(adjacency[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def shortest_cycle(adjacency: Graph, start: str, within: set[str]) -> list[str]:
    """Return a shortest cycle ``[start, ..., start]`` using only modules in ``within``.

    ``start`` must lie in a strongly connected component inside ``within``, so one exists.
    """
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(adjacency[node]):
            if child not in within:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if child not in parent:
                parent[child] = node
                queue.append(child)
    raise ValueError(f"{start} is on no cycle")


def describe(graph: grimp.ImportGraph, cycle: Sequence[str]) -> str:
    """Return ``cycle`` as one chain naming the line of each import (the first, if several)."""
    steps = []
    for importer, imported in itertools.pairwise(cycle):
        details = graph.get_import_details(importer=importer, imported=imported)
        line = min((d["line_number"] for d in details), default=0)
        steps.append(f"{importer}:{line}")
    return " -> ".join([*steps, cycle[-1]])


def report(graph: grimp.ImportGraph, adjacency: Graph) -> list[str]:
    """Return the report lines: per component its size and chains covering all its modules.

    Empty when the graph has no circle.
    """
    lines: list[str] = []
    for component in strongly_connected(adjacency):
        members = set(component)
        lines.append(f"circle of {len(component)} modules: {', '.join(component)}")
        covered: set[str] = set()
        for module in component:
            if module in covered:
                continue
            cycle = shortest_cycle(adjacency, module, members)
            covered.update(cycle)
            lines.append(f"  {describe(graph, cycle)}")
    return lines


def main(argv: Sequence[str]) -> int:
    """Check the packages named in ``argv`` (or the default ones); return the exit status."""
    if any(arg.startswith("-") for arg in argv):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    packages = tuple(argv) or DEFAULT_PACKAGES
    graph, adjacency = import_graph(packages)
    lines = report(graph, adjacency)
    if lines:
        print("\n".join(lines))
        circles = sum(1 for line in lines if line.startswith("circle"))
        print(f"import circles: {circles} (break each chain; see docs/ARCHITECTURE.md)")
        return 1
    print(f"no import circles among {len(adjacency)} modules of {', '.join(packages)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
