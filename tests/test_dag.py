"""The small graph behind `simaccel.graph` does what networkx did for it: the same keyed
topological order, and a cycle exactly when networkx finds one (a real one)."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from simaccel.dag import Dag

EDGES = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=25)


def _both(nodes: int, edges: list[tuple[int, int]]) -> tuple[Dag, nx.DiGraph]:
    ours, theirs = Dag(), nx.DiGraph()
    for n in range(nodes):
        ours.add_node(f"n{n}", index=(n * 7) % nodes)
        theirs.add_node(f"n{n}", index=(n * 7) % nodes)
    for a, b in edges:
        if a < nodes and b < nodes:
            ours.add_edge(f"n{a}", f"n{b}")
            theirs.add_edge(f"n{a}", f"n{b}")
    return ours, theirs


@settings(max_examples=300, deadline=None)
@given(nodes=st.integers(1, 10), edges=EDGES, acyclic=st.booleans())
def test_order_and_cycles_match_networkx(nodes: int, edges: list, acyclic: bool) -> None:
    if acyclic:
        edges = [(min(a, b), max(a, b)) for a, b in edges if a != b]
    ours, theirs = _both(nodes, edges)
    cycle = ours.find_cycle()
    if nx.is_directed_acyclic_graph(theirs):
        assert cycle is None
        key = lambda n: (theirs.nodes[n]["index"], n)  # noqa: E731
        assert ours.topological_order(key) == list(
            nx.lexicographical_topological_sort(theirs, key=key))
        for node in theirs:
            assert ours.successors(node) == list(theirs.successors(node))
    else:
        assert cycle, "networkx finds a cycle"
        assert all(theirs.has_edge(a, b) for a, b in zip(cycle, [*cycle[1:], cycle[0]],
                                                         strict=True))


def test_a_self_loop_and_a_repeated_edge() -> None:
    dag = Dag()
    dag.add_edge("a", "b")
    dag.add_edge("a", "b")
    assert dag.successors("a") == ["b"] and dag.topological_order(str) == ["a", "b"]
    dag.add_edge("b", "b")
    assert dag.find_cycle() == ["b"]
