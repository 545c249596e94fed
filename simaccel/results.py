"""Results: per-kernel and total figures derived from the schedule and what the engine saw.

Pure arithmetic, no simulation: cycles come from the engine's spans, work and traffic from
the schedule. Units: cycles, bytes, MACs; fractions in 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass

from simaccel.engine import EngineResult, TraceEvent
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel
from simaccel.numerics.outcome import Check
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

    @property
    def cycles(self) -> int:
        """Cycles from the kernel's start to its end."""
        return self.end_cycle - self.start_cycle

    @property
    def stall_cycles(self) -> int:
        """Cycles the kernel's unit waited (for data or for room) instead of computing."""
        return self.cycles - self.compute_cycles


@dataclass(frozen=True)
class Totals:
    """The whole run."""

    cycles: int
    compute_cycles: int
    macs: int
    utilization: float
    mapping_efficiency: float
    traffic: Traffic

    @property
    def stall_cycles(self) -> int:
        return self.cycles - self.compute_cycles


@dataclass(frozen=True)
class Results:
    """Per-kernel results in execution order, and totals."""

    layers: tuple[LayerResult, ...]
    total: Totals
    trace: tuple[TraceEvent, ...] = ()


def collect(schedule: Schedule, engine: EngineResult, checks: tuple[Check, ...]) -> Results:
    """Combine the schedule, the engine's spans and the numerics checks into `Results`."""
    hw = schedule.hardware
    layers = tuple(_layer(work, span.start, span.end, check, hw)
                   for work, span, check in zip(schedule.layers, engine.spans, checks,
                                                strict=True))
    return Results(layers=layers, total=_totals(layers, engine.cycles, hw), trace=engine.trace)


def _layer(work: LayerSchedule, start: int, end: int, check: Check, hw: Hardware) -> LayerResult:
    macs = work.kernel.macs
    cycles = end - start
    pes = hw.array.pes
    mapping = None
    if isinstance(work.kernel, GemmKernel) and work.plan is not None:
        mapping = work.plan.mapping_efficiency
    return LayerResult(
        work=work, start_cycle=start, end_cycle=end, compute_cycles=work.compute_cycles,
        macs=macs, utilization=macs / (pes * cycles) if cycles else 0.0,
        mapping_efficiency=mapping, traffic=work.traffic, check=check)


def _totals(layers: tuple[LayerResult, ...], cycles: int, hw: Hardware) -> Totals:
    pes = hw.array.pes
    macs = sum(r.macs for r in layers)
    steady = sum(r.work.plan.steady_cycles for r in layers if r.work.plan is not None)
    traffic = Traffic()
    for r in layers:
        traffic = traffic + r.traffic
    return Totals(
        cycles=cycles, compute_cycles=sum(r.compute_cycles for r in layers), macs=macs,
        utilization=macs / (pes * cycles) if cycles else 0.0,
        mapping_efficiency=macs / (pes * steady) if steady else 0.0, traffic=traffic)
