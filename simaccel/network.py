"""The links between chips (or between a chip's cores): a directed graph of links, each
moving ``bytes_per_cycle`` in one direction with ``latency_cycles`` per hop, and the route a
message takes between two nodes. Built from `Hardware` by `system_network` (``[system]``)
and `chip_network` (``[chip]``'s on-chip ring); pure, no simulation (the link engine times
messages on it, `simaccel.link_engine`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from simaccel.hardware import Hardware, Topology


@dataclass(frozen=True)
class Network:
    """``nodes`` endpoints joined by directed ``links`` (src, dst); ``SWITCH`` (= -1) as an
    end is the switch of a switched topology. Times in cycles of the array clock."""

    topology: Topology
    nodes: int
    links: tuple[tuple[int, int], ...]
    bytes_per_cycle: float
    latency_cycles: int
    rows: int = 1  #: mesh2d: grid rows (nodes = rows × cols, row-major)

    SWITCH = -1

    def link_index(self, src: int, dst: int) -> int:
        """Index of the link from ``src`` to ``dst``; KeyError when none."""
        return self._index[(src, dst)]

    @cached_property
    def _index(self) -> dict[tuple[int, int], int]:
        return {link: i for i, link in enumerate(self.links)}

    def route(self, src: int, dst: int) -> tuple[tuple[int, ...], int]:
        """(link indices, hops) a message from ``src`` to ``dst`` takes: the shorter way
        round a ring (clockwise on a tie), X then Y on a mesh, up then down through a switch
        (one hop: the link latency is the latency through the switch)."""
        if src == dst:
            return (), 0
        if self.topology is Topology.SWITCH:
            return (self.link_index(src, self.SWITCH), self.link_index(self.SWITCH, dst)), 1
        path = (_ring_path(src, dst, self.nodes) if self.topology is Topology.RING
                else _mesh_path(src, dst, self.nodes // self.rows))
        hops = tuple(self.link_index(a, b) for a, b in zip(path, path[1:], strict=False))
        return hops, len(hops)

    def ring_order(self) -> tuple[int, ...]:
        """An order of the nodes in which neighbours are linked, for ring algorithms: the
        ring itself, the snake (boustrophedon) through a mesh's rows, any order behind a
        switch."""
        if self.topology is not Topology.MESH2D:
            return tuple(range(self.nodes))
        cols = self.nodes // self.rows
        return tuple(r * cols + (c if r % 2 == 0 else cols - 1 - c)
                     for r in range(self.rows) for c in range(cols))


def _ring_path(src: int, dst: int, nodes: int) -> list[int]:
    forward = (dst - src) % nodes
    step = 1 if forward <= nodes - forward else -1
    path = [src]
    while path[-1] != dst:
        path.append((path[-1] + step) % nodes)
    return path


def _mesh_path(src: int, dst: int, cols: int) -> list[int]:
    (r, c), (r1, c1) = divmod(src, cols), divmod(dst, cols)
    path = [src]
    while c != c1:
        c += 1 if c1 > c else -1
        path.append(r * cols + c)
    while r != r1:
        r += 1 if r1 > r else -1
        path.append(r * cols + c)
    return path


def mesh_rows(nodes: int) -> int:
    """Rows of the most nearly square grid of ``nodes``: the largest divisor ≤ √nodes."""
    return max(d for d in range(1, math.isqrt(nodes) + 1) if nodes % d == 0)


def build(topology: Topology, nodes: int, gbps: float, latency_ns: float,
          clock_mhz: float) -> Network:
    """A network of ``nodes`` in ``topology`` with links of ``gbps`` GB/s per direction and
    ``latency_ns`` per hop, timed in cycles of a ``clock_mhz`` clock (latency rounded up)."""
    links: list[tuple[int, int]] = []
    rows = 1
    if topology is Topology.RING and nodes > 1:
        pairs = {(i, (i + 1) % nodes) for i in range(nodes)}
        links = sorted(pairs | {(b, a) for a, b in pairs})
    elif topology is Topology.MESH2D:
        rows = mesh_rows(nodes)
        cols = nodes // rows
        for n in range(nodes):
            r, c = divmod(n, cols)
            for r1, c1 in ((r, c + 1), (r + 1, c)):
                if r1 < rows and c1 < cols:
                    links += [(n, r1 * cols + c1), (r1 * cols + c1, n)]
        links.sort()
    elif topology is Topology.SWITCH:
        links = [(n, Network.SWITCH) for n in range(nodes)] + [
            (Network.SWITCH, n) for n in range(nodes)]
    return Network(topology=topology, nodes=nodes, links=tuple(links),
                   bytes_per_cycle=gbps * 1e9 / (clock_mhz * 1e6),
                   latency_cycles=math.ceil(latency_ns * clock_mhz / 1000), rows=rows)


def system_network(hw: Hardware) -> Network:
    """The chip-to-chip links of ``hw``'s ``[system]``."""
    s = hw.system
    return build(s.topology, s.chips, s.link_gbps, s.link_latency_ns, hw.clock_mhz)


def chip_network(hw: Hardware) -> Network:
    """The on-chip ring joining ``hw``'s cores (``[chip]`` ``noc_gbps``, ``noc_latency_ns``)."""
    c = hw.chip
    return build(Topology.RING, c.cores, c.noc_gbps, c.noc_latency_ns, hw.clock_mhz)
