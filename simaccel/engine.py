"""The engine: a simpy simulation of the accelerator running a `Schedule`, tile by tile.

One `simpy.Environment` per run. A controller process walks the kernels in order and hands
each tile to the unit it runs on (array or vector unit), which holds it for the tile's cycles;
every tile becomes one `TraceEvent`. Time advances once per tile, never per cycle.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import simpy

from simaccel.schedule import LayerSchedule, Schedule, Unit


@dataclass(frozen=True)
class TraceEvent:
    """One tile of work on one unit, from ``start`` to ``end`` (cycles)."""

    unit: str
    start: int
    end: int
    layer: int
    tile: int
    bytes: int


@dataclass(frozen=True)
class LayerSpan:
    """When a kernel started and finished, in cycles from the start of the run."""

    start: int
    end: int


@dataclass(frozen=True)
class EngineResult:
    """What the engine observed: each kernel's span, the end of the run and a trace."""

    spans: tuple[LayerSpan, ...]
    cycles: int
    trace: tuple[TraceEvent, ...]


def run(schedule: Schedule) -> EngineResult:
    """Simulate ``schedule``; returns spans per kernel and a trace (times in cycles)."""
    env = simpy.Environment()
    units = {unit: simpy.Resource(env, capacity=1) for unit in Unit}
    trace: list[TraceEvent] = []
    spans: list[LayerSpan] = []

    def layer(index: int, work: LayerSchedule) -> Generator[simpy.Event, object, None]:
        start = int(env.now)
        with units[work.unit].request() as grant:
            yield grant
            for tile in work.tiles:
                begin = int(env.now)
                yield env.timeout(tile.compute_cycles)
                trace.append(TraceEvent(work.unit.value, begin, int(env.now), index, tile.index,
                                        tile.traffic.sram_read_bytes))
        spans.append(LayerSpan(start, int(env.now)))

    def controller() -> Generator[simpy.Event, object, None]:
        for index, work in enumerate(schedule.layers):
            yield env.process(layer(index, work))

    env.process(controller())
    env.run()
    return EngineResult(spans=tuple(spans), cycles=int(env.now), trace=tuple(trace))
