"""Results: per-kernel and total figures derived from the schedule and what the engine saw.

Pure arithmetic, no simulation: cycles come from the engine's spans, work and traffic from
the schedule. Units: cycles, bytes, MACs; fractions in 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simaccel.engine import EngineResult, TraceEvent
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel
from simaccel.numerics.outcome import Check
from simaccel.program import Placement, Program
from simaccel.schedule import LayerSchedule, Schedule, Traffic
from simaccel.sparse_hw import array_macs


@dataclass(frozen=True)
class LayerResult:
    """One kernel's figures. ``utilization`` = array MACs / (PEs × cycles);
    ``mapping_efficiency`` = array MACs / (PEs × steady-state stream cycles), None for vector
    kernels. ``macs`` is the model's count; ``array_macs`` the PE-cycles of MACs the array
    spends on it (fewer on a sparse array that skips zero weights, `sparse_hw.array_macs`)."""

    work: LayerSchedule
    start_cycle: int
    end_cycle: int
    compute_cycles: int
    macs: int
    utilization: float
    mapping_efficiency: float | None
    traffic: Traffic
    check: Check
    resident: tuple[str, ...] = ()
    spilled_bytes: int = 0
    core: int = 0  #: the core whose array or vector unit ran it
    array_macs: int = 0

    @property
    def cycles(self) -> int:
        """Cycles of the kernel's window on its unit (see `simaccel.engine.LayerSpan`)."""
        return self.end_cycle - self.start_cycle

    @property
    def stall_cycles(self) -> int:
        """Cycles of the kernel's window its unit waited (for data or for room)."""
        return self.cycles - self.compute_cycles


@dataclass(frozen=True)
class Totals:
    """The whole run. ``compute_cycles``: cycles in which some compute unit (an array or a
    vector unit) was busy; units working side by side count once."""

    cycles: int
    compute_cycles: int
    macs: int
    utilization: float
    mapping_efficiency: float
    traffic: Traffic
    array_macs: int = 0  #: MACs the arrays spent PE-cycles on (fewer when sparse)

    @property
    def stall_cycles(self) -> int:
        """Cycles of the run in which no compute unit was busy."""
        return self.cycles - self.compute_cycles


@dataclass(frozen=True)
class CoreResult:
    """One core of the chip over the whole run. ``compute_cycles``: cycles in which its
    array or its vector unit was busy (the two side by side count once); ``kernels``: the
    indices, in execution order, of the kernels it ran; ``traffic``: theirs, summed."""

    core: int
    compute_cycles: int
    macs: int
    kernels: tuple[int, ...]
    traffic: Traffic
    array_macs: int = 0  #: MACs its array spent PE-cycles on (`LayerResult.array_macs`)


@dataclass(frozen=True)
class Results:
    """Per-kernel results in execution order, totals, and per core its share of the run."""

    layers: tuple[LayerResult, ...]
    total: Totals
    trace: tuple[TraceEvent, ...] = ()
    cores: tuple[CoreResult, ...] = ()


def collect(schedule: Schedule, program: Program, traffic: tuple[Traffic, ...],
            engine: EngineResult, checks: tuple[Check, ...]) -> Results:
    """Combine the schedule, the Program's traffic and placements, the engine's spans and
    the numerics checks into `Results`."""
    hw = schedule.hardware
    placed = {p.tensor: p for p in program.placements}
    kernel_cores = program.kernel_cores or (0,) * len(schedule.layers)
    layers = tuple(
        replace(_layer(work, span.start, span.end, check, hw, moved),
                resident=tuple(t for t in (*work.kernel.inputs, work.kernel.output)
                               if t in placed and placed[t].resident),
                spilled_bytes=_spilled(work, placed, moved), core=core)
        for work, span, check, moved, core in zip(schedule.layers, engine.spans, checks,
                                                  traffic, kernel_cores, strict=True))
    return Results(layers=layers, total=_totals(layers, engine, hw), trace=engine.trace,
                   cores=_cores(layers, engine, hw.chip.cores))


def _cores(layers: tuple[LayerResult, ...], engine: EngineResult, count: int
           ) -> tuple[CoreResult, ...]:
    """Each core's busy cycles (from the engine) and its kernels' MACs and traffic: a
    kernel that computes nothing (a view) counts on the core the mapping gave it."""
    busy = engine.core_busy_cycles or (engine.busy_cycles,) + (0,) * (count - 1)
    out = []
    for core in range(count):
        mine = tuple(i for i, r in enumerate(layers) if r.core == core)
        traffic = Traffic()
        for i in mine:
            traffic = traffic + layers[i].traffic
        out.append(CoreResult(core=core, compute_cycles=busy[core],
                              macs=sum(layers[i].macs for i in mine), kernels=mine,
                              traffic=traffic,
                              array_macs=sum(layers[i].array_macs for i in mine)))
    return tuple(out)


def _spilled(work: LayerSchedule, placed: dict[str, Placement], traffic: Traffic) -> int:
    """DRAM bytes the kernel writes of an output that a later kernel reads back (not a model
    output that only the host reads)."""
    where = placed.get(work.kernel.output)
    if where is None or where.resident or where.last_use == where.producer:
        return 0
    return traffic.dram_write_bytes


def _layer(work: LayerSchedule, start: int, end: int, check: Check, hw: Hardware,
           traffic: Traffic) -> LayerResult:
    macs = work.kernel.macs
    occupied = array_macs(work.kernel, hw) if isinstance(work.kernel, GemmKernel) else macs
    cycles = end - start
    pes = hw.array.pes
    mapping = None
    if isinstance(work.kernel, GemmKernel) and work.plan is not None:
        mapping = work.plan.mapping_efficiency
    return LayerResult(
        work=work, start_cycle=start, end_cycle=end, compute_cycles=work.compute_cycles,
        macs=macs, utilization=occupied / (pes * cycles) if cycles else 0.0,
        mapping_efficiency=mapping, traffic=traffic, check=check, array_macs=occupied)


def _totals(layers: tuple[LayerResult, ...], engine: EngineResult, hw: Hardware) -> Totals:
    pes = hw.array.pes * hw.chip.cores
    cycles = engine.cycles
    macs = sum(r.macs for r in layers)
    occupied = sum(r.array_macs for r in layers)
    steady = sum(r.work.plan.steady_cycles for r in layers if r.work.plan is not None)
    traffic = Traffic()
    for r in layers:
        traffic = traffic + r.traffic
    return Totals(
        cycles=cycles, compute_cycles=engine.busy_cycles, macs=macs,
        utilization=occupied / (pes * cycles) if cycles else 0.0,
        # a fold's occupancy of one array, whichever core it ran on
        mapping_efficiency=occupied / (hw.array.pes * steady) if steady else 0.0,
        traffic=traffic, array_macs=occupied)
