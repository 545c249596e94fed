"""The engine: a simpy simulation of the accelerator running a `Program`.

One `simpy.Environment` per run (docs/architecture.md, "Engine"), with:

* one **process per unit per core** (``dma_in``, ``dma_w``, ``dma_out``, ``array``,
  ``vector``), each running its queue in order: an instruction starts once every
  instruction it depends on is done and the bytes it takes are free in its memory
  partition;
* a **DRAM channel** (a `simpy.Resource` of capacity 1, shared by every core's DMA) that a
  load or store holds for ⌈bytes / bytes per cycle⌉ cycles, granted first come, first served
  (a prefetch can run only two slots ahead, so it cannot crowd out the transfers that come
  due; granting in program order instead would make a waiting load queue behind the store of
  a finished tile); a load's data arrives the access latency later, without holding the
  channel or its DMA unit, so transfers pipeline;
* **memory partitions**, one `simpy.Container` of bytes per (core, operand): a load takes its
  block's bytes, a matmul or vector tile that opens an output block takes the block's
  accumulator bytes, and the instruction that last uses them gives them back.

**Fast-forward**: a ``skip`` instruction on a kernel's compute unit stands for iterations of
one of its loops that are all alike (`simaccel.schedule`, "Fast-forward"). Its period is the
mean time of the two iterations listed before it (from the end of the compute of the
iteration before them to the end of the last); at the skip,
every scheduled event of the kernel (transfers in flight, loads' arrivals, space granted,
instructions done) moves ``repeat`` periods later, and so does the compute unit. Events of
other kernels stay where they are: what ran in the steady state's shadow (another core, the
vector unit beside the array) keeps its time, but finds the DRAM channel free where it would
have shared it. The exact mode (no skips) is the reference; a test holds the two within
0.5% on every shipped workload and config.

Time advances per instruction, never per cycle. A kernel's window runs from when it could
start (its unit free of the kernel before, the kernels it reads done computing) to the end of
its own compute: windows of one unit never overlap, windows of different units (the array
and the vector unit running independent kernels) may; in a chain they follow each other.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Generator
from dataclasses import dataclass

import simpy

from simaccel.errors import SimulationError
from simaccel.hardware import DramSharing
from simaccel.kernels import producers
from simaccel.program import Instruction, Opcode, Program, Unit

Process = Generator[simpy.Event, object, None]


@dataclass(frozen=True)
class TraceEvent:
    """One tile or transfer on one unit, from ``start`` to ``end`` (cycles)."""

    unit: str  # "array", "vector", "dram_read" or "dram_write" ("cN." before it on core N)
    start: int
    end: int
    layer: int
    tile: int
    bytes: int
    repeat: int = 0  #: a fast-forwarded stretch: this many iterations from ``tile`` on


@dataclass(frozen=True)
class LayerSpan:
    """A kernel's window on its unit, in cycles: from when it could start (its unit free,
    its inputs computed) to the end of its own last tile."""

    start: int
    end: int


@dataclass(frozen=True)
class EngineResult:
    """What the engine observed: each kernel's window, the end of the run, the cycles some
    compute unit was busy, and a trace."""

    spans: tuple[LayerSpan, ...]
    cycles: int
    trace: tuple[TraceEvent, ...]
    busy_cycles: int = 0  #: cycles in which at least one compute unit was busy
    #: per core, cycles in which its array or its vector unit (or both) was busy
    core_busy_cycles: tuple[int, ...] = ()
    #: kernels whose fast-forward ran beside another kernel's work (`contended`)
    contended: tuple[int, ...] = ()


#: The compute units' tracks: a fast-forwarded stretch shows there as one slice.
_COMPUTE_TRACK = {Unit.ARRAY: "array", Unit.VECTOR: "vector"}
_TRACK = {Opcode.LOAD: "dram_read", Opcode.STORE: "dram_write", Opcode.MATMUL: "array",
          Opcode.VECTOR: "vector"}


class _Run:
    """State of one simulation; `unit` is the simpy process of one queue."""

    def __init__(self, program: Program, trace: bool) -> None:
        hw = program.hardware
        self.program = program
        self.env = simpy.Environment()
        self.bytes_per_cycle = hw.dram_bytes_per_cycle
        self.latency = hw.dram_latency_cycles
        self.channel = simpy.Resource(self.env, capacity=1)
        #: with ``[chip] dram = "per_core"`` each core has its own channel (core 0 keeps
        #: ``channel``)
        self.channels = [self.channel] + [
            simpy.Resource(self.env, capacity=1)
            for _ in range(hw.chip.cores - 1 if hw.chip.dram is DramSharing.PER_CORE else 0)]
        self.space = {key: simpy.Container(self.env, capacity=max(size, 1), init=max(size, 1))
                      for key, size in program.capacity}
        self.by_index = {ins.index: ins for ins in program.instructions}
        self.done = {index: self._tag(self.env.event(), ins.kernel)
                     for index, ins in self.by_index.items()}
        self.position = {key: 0 for key, _ in program.queues}
        n = len(program.kernels)
        self.compute_start = [-1] * n
        self.compute_end = [-1] * n
        self.busy: list[tuple[int, int]] = []
        self.core_busy: list[list[tuple[int, int]]] = [[] for _ in range(hw.chip.cores)]
        self.keep_trace = trace
        self.trace: list[TraceEvent] = []
        self.watched = {p for ins in program.instructions if ins.op is Opcode.SKIP
                        for p in ins.probes}
        self.ended: dict[int, int] = {}
        self.warped = [0] * n  #: cycles each kernel has been moved on by fast-forwards
        #: with skips: each resource's busy intervals (start, end, kernel), and each skip's
        #: (kernel, measured window start, end, skipped span start, end)
        self.activity: dict[object, list[tuple[int, int, int]]] | None = \
            {} if self.watched else None
        self.skips: list[tuple[int, int, int, int, int]] = []

    @staticmethod
    def _tag(event: simpy.Event, kernel: int) -> simpy.Event:
        """Mark ``event`` as the kernel's, so that a fast-forward of the kernel moves it."""
        event.kernel = kernel  # type: ignore[attr-defined]
        return event

    def _timeout(self, cycles: int, kernel: int) -> simpy.Event:
        return self._tag(self.env.timeout(cycles), kernel)

    def transfer_cycles(self, nbytes: int) -> int:
        """Cycles a transfer holds the DRAM channel."""
        if nbytes == 0 or math.isinf(self.bytes_per_cycle):
            return 0
        return math.ceil(nbytes / self.bytes_per_cycle)

    def unit(self, key: tuple[int, Unit], queue: tuple[int, ...]) -> Process:
        for position, index in enumerate(queue):
            self.position[key] = position
            ins = self.by_index[index]
            for dep in ins.deps:
                if not self.done[dep].processed:
                    yield self.done[dep]
            if ins.takes:
                yield self._tag(self.space[(ins.core, ins.partition)].get(ins.takes),
                                ins.kernel)
            if ins.op is Opcode.SKIP:
                yield from self._skip(ins)
            elif ins.op in (Opcode.LOAD, Opcode.STORE):
                yield from self._transfer(ins)
            else:
                start = self.env.now
                if ins.cycles:
                    yield self._timeout(ins.cycles, ins.kernel)
                self._finish(ins, start)
        self.position[key] = len(queue)

    def _skip(self, ins: Instruction) -> Process:
        """Fast-forward ``ins.repeat`` iterations: the period is the mean time of the last
        two listed iterations (from the end of the compute of the one before them to the end
        of the last: double buffering behind a long DRAM latency makes iterations alternate
        long and short, and one iteration alone would measure only the short one); whatever
        the kernel has still to
        do — this unit's next instruction and every pending event of the kernel's transfers,
        space and dependencies — moves that many periods later. Other kernels' events stay
        where they are."""
        span = self.ended[ins.probes[-1]] - self.ended[ins.probes[0]]
        iterations = len(ins.probes) - 1
        period = span / iterations
        shift = ins.repeat * span // iterations
        start = int(self.env.now)
        if shift > 0:
            self.skips.append((ins.kernel, int(self.ended[ins.probes[0]] - period),
                               self.ended[ins.probes[-1]], start, start + shift))
            self._warp(ins.kernel, shift)
            self._busy(ins.core, start, start + min(ins.cycles, shift))
            if self.keep_trace:
                unit = _COMPUTE_TRACK[ins.unit]
                self.trace.append(TraceEvent(unit if ins.core == 0 else f"c{ins.core}.{unit}",
                                             start, start + shift, ins.kernel, ins.tile,
                                             ins.bytes, ins.repeat))
            yield self._timeout(shift, ins.kernel)
        self.done[ins.index].succeed()

    def _busy(self, core: int, start: int, end: int) -> None:
        self.busy.append((start, end))
        self.core_busy[core].append((start, end))

    def _warp(self, kernel: int, shift: int) -> None:
        """Move every scheduled event of ``kernel`` ``shift`` cycles later (simpy keeps
        them in ``Environment._queue``, a heap of (time, priority, id, event))."""
        queue = self.env._queue  # noqa: SLF001 - no public way to move scheduled events
        queue[:] = [(at + shift, *rest) if getattr(rest[-1], "kernel", None) == kernel
                    else (at, *rest) for at, *rest in queue]
        heapq.heapify(queue)
        self.warped[kernel] += shift

    def _transfer(self, ins: Instruction) -> Process:
        channel = self.channels[ins.core % len(self.channels)]
        granted = self._tag(channel.request(), ins.kernel)
        yield granted
        start = self.env.now
        warped = self._warped(ins)
        cycles = self.transfer_cycles(ins.bytes)
        if cycles:
            yield self._timeout(cycles, ins.kernel)
        self._tag(channel.release(granted), ins.kernel)
        if ins.op is Opcode.LOAD and self.latency:
            arrival = self._timeout(self.latency, ins.kernel)
            arrival.callbacks.append(
                lambda _: self._finish(ins, start + self._warped(ins) - warped))
        else:
            self._finish(ins, start + self._warped(ins) - warped)

    def _warped(self, ins: Instruction) -> int:
        return self.warped[ins.kernel] if ins.kernel >= 0 else 0

    def _finish(self, ins: Instruction, start: float) -> None:
        end = int(self.env.now)
        if ins.index in self.watched:
            self.ended[ins.index] = end
        for freed in ins.frees:
            owner = self.by_index[freed]
            if owner.takes:
                self._tag(self.space[(owner.core, owner.partition)].put(owner.takes),
                          ins.kernel)
        if self.activity is not None and ins.op in _TRACK:
            busy_end = end if ins.op in (Opcode.MATMUL, Opcode.VECTOR) else \
                int(start) + self.transfer_cycles(ins.bytes)
            where = (ins.core, ins.unit) if ins.op in (Opcode.MATMUL, Opcode.VECTOR) else \
                ins.core % len(self.channels)
            if busy_end > start:
                self.activity.setdefault(where, []).append((int(start), busy_end, ins.kernel))
        if ins.op in (Opcode.MATMUL, Opcode.VECTOR):
            if end > start:
                self._busy(ins.core, int(start), end)
            k = ins.kernel
            if self.compute_start[k] < 0:
                self.compute_start[k] = int(start)
            self.compute_end[k] = end
        if self.keep_trace and ins.op in _TRACK:
            unit = _TRACK[ins.op] if ins.core == 0 else f"c{ins.core}.{_TRACK[ins.op]}"
            if ins.op is Opcode.LOAD:
                end = int(start) + self.transfer_cycles(ins.bytes)
            self.trace.append(TraceEvent(unit, int(start), end, ins.kernel, ins.tile,
                                         ins.bytes))
        self.done[ins.index].succeed()

    def result(self) -> EngineResult:
        for key, queue in self.program.queues:
            self.env.process(self.unit(key, queue))
        self.env.run()
        stuck = [(key, q[self.position[key]]) for key, q in self.program.queues
                 if self.position[key] < len(q)]
        if stuck:
            (core, unit), index = stuck[0]
            raise SimulationError(f"deadlock: core {core} {unit.value} waits at instruction "
                                  f"#{index} ({len(stuck)} queues stuck)")
        end = int(self.env.now)
        spans = _windows(self.program, self.compute_start, self.compute_end, end)
        self.trace.sort(key=lambda e: (e.start, e.end, e.unit, e.layer, e.tile))
        return EngineResult(spans=spans, cycles=end, trace=tuple(self.trace),
                            busy_cycles=covered_cycles(self.busy),
                            core_busy_cycles=tuple(map(covered_cycles, self.core_busy)),
                            contended=contended(self.skips, self.activity or {}))


def _windows(program: Program, starts: list[int], ends: list[int], run_end: int
             ) -> tuple[LayerSpan, ...]:
    """Each kernel's window: from when it could start — its unit free of the kernel before
    and the kernels it reads done computing — to the end of its last tile, so a kernel's wait
    for its data counts against it, and in a chain the windows follow each other. The kernel
    that computes last also owns the run's final stores (its window ends with the run). A
    kernel with no compute (a view) gets an empty window when its inputs are done."""
    unit_of = {ins.kernel: (ins.core, ins.unit) for ins in program.instructions
               if ins.op in (Opcode.MATMUL, Opcode.VECTOR)}
    done = list(ends)
    last_end: dict[tuple[int, Unit], int] = {}
    spans = []
    for k, reads in enumerate(producers(program.kernels)):
        ready = max((done[p] for p in reads), default=0)
        if k not in unit_of:
            done[k] = ready
            spans.append(LayerSpan(ready, ready))
            continue
        start = min(max(last_end.get(unit_of[k], 0), ready), starts[k])
        spans.append(LayerSpan(start, ends[k]))
        last_end[unit_of[k]] = ends[k]
    if unit_of:
        final = max(unit_of, key=lambda k: (ends[k], k))
        spans[final] = LayerSpan(spans[final].start, run_end)
    return tuple(spans)


#: A skip is trusted when other kernels kept its resources busy for at most this share of
#: the two iterations it measured (a period measured beside them carries their load past
#: their end: its error is at most this share) ...
MEASURED_SHARE = 0.001
#: ... and of the span it skipped (they ran there with the DRAM channel to themselves).
SKIPPED_SHARE = 0.01


def contended(skips: list[tuple[int, int, int, int, int]],
              activity: dict[object, list[tuple[int, int, int]]]) -> tuple[int, ...]:
    """Kernels with a skip whose measured iterations or skipped span other kernels' work
    overlapped by more than `MEASURED_SHARE` or `SKIPPED_SHARE` of its length (busy cycles
    on any compute unit or DRAM channel). Each resource's intervals are disjoint and in time
    order, so the ones inside a window are found by bisection."""
    starts = {where: [i[0] for i in spans] for where, spans in activity.items()}
    out = set()
    for kernel, measure_start, measure_end, skip_start, skip_end in skips:
        for lo, hi, share in ((measure_start, measure_end, MEASURED_SHARE),
                              (skip_start, skip_end, SKIPPED_SHARE)):
            others = 0
            for where, spans in activity.items():
                first = max(bisect.bisect_right(starts[where], lo) - 1, 0)
                for a, b, k in spans[first:bisect.bisect_left(starts[where], hi)]:
                    if k != kernel:
                        others += max(0, min(b, hi) - max(a, lo))
            if others > share * max(hi - lo, 1):
                out.add(kernel)
    return tuple(sorted(out))


def covered_cycles(intervals: list[tuple[int, int]]) -> int:
    """Cycles covered by at least one of ``intervals``."""
    covered, reach = 0, 0
    for start, end in sorted(intervals):
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


def run(program: Program, trace: bool = True) -> EngineResult:
    """Simulate ``program``; returns spans per kernel, the run's cycles and (with
    ``trace``) one event per tile and transfer. Raises `SimulationError` on a deadlock
    (a Program whose dependencies or space can never be met)."""
    return _Run(program, trace).result()
