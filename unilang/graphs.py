"""Small graph helpers for the hot path.

Ordering an acyclic graph needs nothing more than Kahn's algorithm with a
heap, and most graphs unilang sees are acyclic; networkx (whose import
alone costs more than a whole `check` of a small spec) is loaded only to
analyse a graph that turned out to have a cycle.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable, Collection, Hashable, Iterable, TypeVar

N = TypeVar("N", bound=Hashable)


def ordered(nodes: Iterable[N], edges: Iterable[tuple[N, N]], key: type = str) -> list[N] | None:
    """A topological order of ``nodes`` (edge a -> b puts a first), ties broken by
    ``key`` ascending; None when the graph has a cycle."""
    succ: dict[N, list[N]] = {}
    indeg: dict[N, int] = {}
    for n in nodes:
        if n not in succ:
            succ[n] = []
            indeg[n] = 0
    for a, b in edges:
        out_a = succ.get(a)
        if out_a is None:
            out_a = succ[a] = []
            indeg[a] = 0
        out_a.append(b)
        if b in succ:
            indeg[b] += 1
        else:
            succ[b] = []
            indeg[b] = 1
    out: list[N] = []
    heap = [(key(n), n) for n, d in indeg.items() if d == 0]
    heapq.heapify(heap)
    while heap:
        _, n = heapq.heappop(heap)
        out.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(heap, (key(m), m))
    return out if len(out) == len(indeg) else None


def has_cycle(nodes: Iterable[N], edges: Iterable[tuple[N, N]]) -> bool:
    return ordered(nodes, edges, key=lambda n: 0) is None  # type: ignore[arg-type,return-value]


def cycles(nodes: Iterable[N], edges: Iterable[tuple[N, N]],
           start: Callable[[Collection[N]], N] | None = None,
           order: Callable[[Collection[N]], Any] | None = None) -> list[list[tuple[N, N]]]:
    """One cycle per strongly connected component that has one (a self-loop counts),
    each as its edges from the component's ``start`` node, components sorted by
    ``order``; ``[]`` when the graph is acyclic.  Parallel edges count once, and
    the cycle found follows edges in the order they were given, so the same graph
    gives the same cycles.  ``start`` and ``order`` default to the smallest node.
    Callers word their own diagnostics."""
    nodes = list(nodes)
    edges = list(edges)
    if not has_cycle(nodes, edges):
        return []
    import networkx as nx  # type: ignore[import-untyped]  # only to analyse the cycles

    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    comps = [c for c in nx.strongly_connected_components(g)
             if len(c) > 1 or any(g.has_edge(n, n) for n in c)]
    first = start or min
    return [list(nx.find_cycle(g.subgraph(c), source=first(c)))
            for c in sorted(comps, key=order or min)]
