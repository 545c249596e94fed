"""A small directed graph with node attributes: the few things `simaccel.graph` needs
(successors, a keyed topological order, a cycle), in the standard library. networkx did
this before and took a tenth of a second of every command's start-up to import."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from typing import Any

_END = object()


class Dag:
    """Nodes (insertion-ordered, each with a dict of attributes) and edges (no duplicates),
    as much of networkx's ``DiGraph`` as simaccel uses."""

    def __init__(self) -> None:
        self.nodes: dict[Hashable, dict[str, Any]] = {}
        self._succ: dict[Hashable, dict[Hashable, None]] = {}
        self._pred: dict[Hashable, dict[Hashable, None]] = {}

    def __contains__(self, node: object) -> bool:
        return node in self.nodes

    def add_node(self, node: Hashable, **attrs: Any) -> None:
        """Add ``node`` (or update its attributes)."""
        self.nodes.setdefault(node, {}).update(attrs)
        self._succ.setdefault(node, {})
        self._pred.setdefault(node, {})

    def add_edge(self, tail: Hashable, head: Hashable) -> None:
        """Add the edge ``tail -> head`` (once, however often it is added)."""
        for node in (tail, head):
            if node not in self.nodes:
                self.add_node(node)
        self._succ[tail][head] = None
        self._pred[head][tail] = None

    def in_degree(self, node: Hashable) -> int:
        """How many edges end at ``node``."""
        return len(self._pred[node])

    def successors(self, node: Hashable) -> list[Hashable]:
        """The heads of ``node``'s edges, in the order they were added."""
        return list(self._succ[node])

    def topological_order(self, key: Callable[[Hashable], Any]) -> list[Hashable]:
        """Every node after its predecessors; among the nodes ready at once, the smallest
        ``key`` first (ties: the first added). As networkx's
        ``lexicographical_topological_sort``; the graph must have no cycle."""
        added = {node: i for i, node in enumerate(self.nodes)}
        waiting = {node: len(preds) for node, preds in self._pred.items() if preds}
        ready = [(key(n), added[n], n) for n in self.nodes if n not in waiting]
        heapq.heapify(ready)
        order = []
        while ready:
            node = heapq.heappop(ready)[2]
            order.append(node)
            for child in self._succ[node]:
                waiting[child] -= 1
                if not waiting[child]:
                    del waiting[child]
                    heapq.heappush(ready, (key(child), added[child], child))
        if waiting:
            raise ValueError("the graph has a cycle")
        return order

    def find_cycle(self) -> list[Hashable] | None:
        """The nodes of one cycle in edge order (the first reached by a depth-first search
        from the nodes in the order they were added), or None."""
        state: dict[Hashable, int] = {}  # 1: on the current path, 2: done
        for root in self.nodes:
            if root in state:
                continue
            path, stack = [root], [iter(self._succ[root])]
            state[root] = 1
            while stack:
                child = next(stack[-1], _END)
                if child is _END:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(child) == 1:
                    return path[path.index(child):]
                elif child not in state:
                    state[child] = 1
                    path.append(child)
                    stack.append(iter(self._succ[child]))
        return None
