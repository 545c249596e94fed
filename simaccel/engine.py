"""The engine: a simpy simulation of the accelerator running a `Schedule`, tile by tile.

One `simpy.Environment` per run, with:

* a **DRAM channel** (a `simpy.Resource` of capacity 1) that every transfer holds for
  ⌈bytes / bytes per cycle⌉ cycles; the access latency follows the transfer without
  holding the channel, so transfers pipeline;
* **SRAM buffers**, one `simpy.Container` of slots per operand: two when double-buffered
  (the next block loads while the array uses this one), else one;
* a **DMA-in process** that walks the tiles in order and prefetches each one's operand
  blocks as soon as a slot is free — into the next layer when this one's loads are done —
  and, for a layer's inputs, once the layers producing them have stored their outputs;
* a **compute process** that runs each tile on its unit (array or vector unit) once its
  blocks have arrived and, when it starts an output block, an ofmap slot is free (a full
  ofmap buffer stalls the array);
* **write-back processes**, one per finished output block, that store it over the channel
  and give its ofmap slot back.

Time advances per tile and per transfer, never per cycle. Each kernel's span runs from the
end of the previous kernel's compute to the end of its own (the last one's to the end of
the run), so spans partition the run and stall = span − compute.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import simpy

from simaccel.domain import Operand
from simaccel.kernels import GemmKernel
from simaccel.schedule import Load, Schedule, Tile

Process = Generator[simpy.Event, object, None]


@dataclass(frozen=True)
class TraceEvent:
    """One tile or transfer on one unit, from ``start`` to ``end`` (cycles)."""

    unit: str  # "array", "vector", "dram_read" or "dram_write"
    start: int
    end: int
    layer: int
    tile: int
    bytes: int


@dataclass(frozen=True)
class LayerSpan:
    """A kernel's share of the run, in cycles from its start."""

    start: int
    end: int


@dataclass(frozen=True)
class EngineResult:
    """What the engine observed: each kernel's span, the end of the run and a trace."""

    spans: tuple[LayerSpan, ...]
    cycles: int
    trace: tuple[TraceEvent, ...]


class _Run:
    """State of one simulation; its methods are the simpy processes."""

    def __init__(self, schedule: Schedule) -> None:
        hw = schedule.hardware
        self.schedule = schedule
        self.env = simpy.Environment()
        self.bytes_per_cycle = hw.dram_bytes_per_cycle
        self.latency = hw.dram_latency_cycles
        slots = 2 if hw.sram.double_buffered else 1
        self.buffers = {op: simpy.Container(self.env, capacity=slots, init=slots)
                        for op in Operand}
        self.channel = simpy.Resource(self.env, capacity=1)
        self.tiles = [(li, tile) for li, work in enumerate(schedule.layers)
                      for tile in work.tiles]
        self.ready = [self.env.event() for _ in self.tiles]
        self.done = [self.env.event() for _ in schedule.layers]
        self.pending_stores = [0] * len(schedule.layers)
        self.computed = [False] * len(schedule.layers)
        self.compute_end = [0] * len(schedule.layers)
        self.producers = _producers(schedule)
        self.trace: list[TraceEvent] = []

    def transfer_cycles(self, nbytes: int) -> int:
        """Cycles a transfer holds the DRAM channel."""
        if nbytes == 0 or math.isinf(self.bytes_per_cycle):
            return 0
        return math.ceil(nbytes / self.bytes_per_cycle)

    def _transfer(self, unit: str, layer: int, tile: int, nbytes: int) -> Process:
        with self.channel.request() as granted:
            yield granted
            start = int(self.env.now)
            yield self.env.timeout(self.transfer_cycles(nbytes))
            self.trace.append(TraceEvent(unit, start, int(self.env.now), layer, tile, nbytes))

    def dma_in(self) -> Process:
        waited = -1
        for i, (layer, tile) in enumerate(self.tiles):
            arrivals = []
            for load in tile.loads:
                if waited != layer and self._needs_producers(layer, load):
                    yield self.env.all_of([self.done[p] for p in self.producers[layer]])
                    waited = layer
                yield self.buffers[load.operand].get(1)
                yield from self._transfer("dram_read", layer, tile.index, load.bytes)
                arrivals.append(self.env.timeout(self.latency))
            self._when_all(arrivals, self.ready[i])

    def _needs_producers(self, layer: int, load: Load) -> bool:
        kernel = self.schedule.layers[layer].kernel
        return load.operand is Operand.IFMAP or (isinstance(kernel, GemmKernel)
                                                 and kernel.filter_is_activation)

    def _when_all(self, events: list[simpy.Event], then: simpy.Event) -> None:
        if not events:
            then.succeed()
            return
        self.env.all_of(events).callbacks.append(lambda _: then.succeed())

    def compute(self) -> Process:
        for i, (layer, tile) in enumerate(self.tiles):
            yield self.ready[i]
            if tile.opens_output:
                yield self.buffers[Operand.OFMAP].get(1)
            start = int(self.env.now)
            if tile.compute_cycles:
                yield self.env.timeout(tile.compute_cycles)
            unit = self.schedule.layers[layer].unit.value
            self.trace.append(TraceEvent(unit, start, int(self.env.now), layer, tile.index,
                                         tile.traffic.sram_read_bytes))
            for operand in tile.frees:
                self.buffers[operand].put(1)
            if tile.store_bytes:
                self.pending_stores[layer] += 1
                self.env.process(self.write_back(layer, tile))
            elif tile.opens_output:
                self.buffers[Operand.OFMAP].put(1)
            if tile is self.schedule.layers[layer].tiles[-1]:
                self.computed[layer] = True
                self.compute_end[layer] = int(self.env.now)
                self._maybe_done(layer)

    def write_back(self, layer: int, tile: Tile) -> Process:
        yield from self._transfer("dram_write", layer, tile.index, tile.store_bytes)
        self.buffers[Operand.OFMAP].put(1)
        self.pending_stores[layer] -= 1
        self._maybe_done(layer)

    def _maybe_done(self, layer: int) -> None:
        if self.computed[layer] and self.pending_stores[layer] == 0:
            self.done[layer].succeed()

    def result(self) -> EngineResult:
        self.env.process(self.dma_in())
        self.env.process(self.compute())
        self.env.run()
        end = int(self.env.now)
        spans, start = [], 0
        for i, finish in enumerate(self.compute_end):
            stop = end if i == len(self.compute_end) - 1 else finish
            spans.append(LayerSpan(start, stop))
            start = stop
        self.trace.sort(key=lambda e: (e.start, e.end, e.unit, e.layer, e.tile))
        return EngineResult(spans=tuple(spans), cycles=end, trace=tuple(self.trace))


def _producers(schedule: Schedule) -> list[list[int]]:
    """For each kernel, the kernels whose outputs it reads."""
    writer: dict[str, int] = {}
    producers: list[list[int]] = []
    for i, work in enumerate(schedule.layers):
        kernel = work.kernel
        producers.append(sorted({writer[t] for t in kernel.inputs if t in writer}))
        writer[kernel.output] = i
        writer[kernel.name] = i
    return producers


def run(schedule: Schedule) -> EngineResult:
    """Simulate ``schedule``; returns spans per kernel and a trace (times in cycles)."""
    return _Run(schedule).result()
