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


@dataclass(frozen=True)
class LayerResult:
    """One kernel's figures. ``utilization`` = MACs / (PEs × cycles); ``mapping_efficiency``
    = MACs / (PEs × steady-state stream cycles), None for vector kernels."""

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

    @property
    def stall_cycles(self) -> int:
        """Cycles of the run in which no compute unit was busy."""
        return self.cycles - self.compute_cycles


@dataclass(frozen=True)
class Results:
    """Per-kernel results in execution order, and totals."""

    layers: tuple[LayerResult, ...]
    total: Totals
    trace: tuple[TraceEvent, ...] = ()


def collect(schedule: Schedule, program: Program, traffic: tuple[Traffic, ...],
            engine: EngineResult, checks: tuple[Check, ...]) -> Results:
    """Combine the schedule, the Program's traffic and placements, the engine's spans and
    the numerics checks into `Results`."""
    hw = schedule.hardware
    placed = {p.tensor: p for p in program.placements}
    layers = tuple(
        replace(_layer(work, span.start, span.end, check, hw, moved),
                resident=tuple(t for t in (*work.kernel.inputs, work.kernel.output)
                               if t in placed and placed[t].resident),
                spilled_bytes=_spilled(work, placed, moved))
        for work, span, check, moved in zip(schedule.layers, engine.spans, checks, traffic,
                                            strict=True))
    return Results(layers=layers, total=_totals(layers, engine, hw), trace=engine.trace)


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
    cycles = end - start
    pes = hw.array.pes
    mapping = None
    if isinstance(work.kernel, GemmKernel) and work.plan is not None:
        mapping = work.plan.mapping_efficiency
    return LayerResult(
        work=work, start_cycle=start, end_cycle=end, compute_cycles=work.compute_cycles,
        macs=macs, utilization=macs / (pes * cycles) if cycles else 0.0,
        mapping_efficiency=mapping, traffic=traffic, check=check)


def _totals(layers: tuple[LayerResult, ...], engine: EngineResult, hw: Hardware) -> Totals:
    pes = hw.array.pes * hw.chip.cores
    cycles = engine.cycles
    macs = sum(r.macs for r in layers)
    steady = sum(r.work.plan.steady_cycles for r in layers if r.work.plan is not None)
    traffic = Traffic()
    for r in layers:
        traffic = traffic + r.traffic
    return Totals(
        cycles=cycles, compute_cycles=engine.busy_cycles, macs=macs,
        utilization=macs / (pes * cycles) if cycles else 0.0,
        # a fold's occupancy of one array, whichever core it ran on
        mapping_efficiency=macs / (hw.array.pes * steady) if steady else 0.0, traffic=traffic)
