"""The schedule: every kernel cut into tiles, each with its array (or vector) cycles and the
bytes it moves. The engine consumes it; energy and numerics read it.

A tile is a block of folds whose operands sit in SRAM together. With buffers large enough
for a whole kernel (what this stage models) a GEMM kernel is one tile holding all its folds;
the memory-system stage cuts kernels that do not fit into several tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel, VectorKernel
from simaccel.systolic import FoldPlan, plan_folds, sram_accesses


class Unit(StrEnum):
    """Hardware units that do work in the engine."""

    ARRAY = "array"
    VECTOR = "vector"


@dataclass(frozen=True)
class Traffic:
    """Bytes moved to and from SRAM and DRAM; traffic adds up."""

    sram_read_bytes: int = 0
    sram_write_bytes: int = 0
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(
            self.sram_read_bytes + other.sram_read_bytes,
            self.sram_write_bytes + other.sram_write_bytes,
            self.dram_read_bytes + other.dram_read_bytes,
            self.dram_write_bytes + other.dram_write_bytes,
        )


@dataclass(frozen=True)
class Tile:
    """One unit of work: ``compute_cycles`` on its unit, moving ``traffic``."""

    index: int
    folds: int
    compute_cycles: int
    traffic: Traffic


@dataclass(frozen=True)
class LayerSchedule:
    """A kernel, the unit it runs on, its fold plan (GEMMs only) and its tiles."""

    kernel: Kernel
    unit: Unit
    plan: FoldPlan | None
    tiles: tuple[Tile, ...]

    @property
    def compute_cycles(self) -> int:
        """Cycles the unit is busy on this kernel."""
        return sum(t.compute_cycles for t in self.tiles)

    @property
    def traffic(self) -> Traffic:
        """All bytes the kernel moves."""
        total = Traffic()
        for tile in self.tiles:
            total = total + tile.traffic
        return total


@dataclass(frozen=True)
class Schedule:
    """Every kernel of a model, tiled for one hardware config, in execution order."""

    hardware: Hardware
    layers: tuple[LayerSchedule, ...] = field(default=())


def gemm_traffic(kernel: GemmKernel, plan: FoldPlan, hw: Hardware) -> Traffic:
    """Bytes a GEMM kernel moves when each operand crosses the DRAM interface once.

    SRAM: the array's reads of ifmap (input type) and filter (weight type) elements, partial
    sums written and read back at accumulator width, and each finished output read once to
    be written back. DRAM: the input tensor, weights and bias in, the output out (in the input
    type, requantised).
    """
    acc = hw.dtypes.accumulator.bytes
    act, wgt = hw.dtypes.input.bytes, hw.dtypes.weight.bytes
    use = sram_accesses(kernel, plan)
    finished = kernel.ofmap_elements
    return Traffic(
        sram_read_bytes=use.ifmap_reads * act + use.filter_reads * wgt
        + (use.ofmap_reads + finished) * acc,
        sram_write_bytes=use.ofmap_writes * acc,
        dram_read_bytes=kernel.ifmap_elements * act + kernel.filter_elements * wgt
        + kernel.bias_elements * acc,
        dram_write_bytes=kernel.ofmap_elements * act,
    )


def vector_traffic(kernel: VectorKernel, hw: Hardware) -> Traffic:
    """Bytes a vector kernel moves: its inputs in, its outputs out, in the input type."""
    act = hw.dtypes.input.bytes
    if kernel.ops_per_element == 0:
        return Traffic()
    return Traffic(sram_read_bytes=kernel.input_elements * act,
                   sram_write_bytes=kernel.elements * act,
                   dram_read_bytes=kernel.input_elements * act,
                   dram_write_bytes=kernel.elements * act)


def schedule_kernel(kernel: Kernel, hw: Hardware) -> LayerSchedule:
    """Plan one kernel on ``hw``."""
    if isinstance(kernel, GemmKernel):
        plan = plan_folds(kernel, hw.array)
        tile = Tile(index=0, folds=plan.folds, compute_cycles=plan.compute_cycles,
                    traffic=gemm_traffic(kernel, plan, hw))
        return LayerSchedule(kernel=kernel, unit=Unit.ARRAY, plan=plan, tiles=(tile,))
    tile = Tile(index=0, folds=0, compute_cycles=kernel.cycles(hw.vector.lanes),
                traffic=vector_traffic(kernel, hw))
    return LayerSchedule(kernel=kernel, unit=Unit.VECTOR, plan=None, tiles=(tile,))


def build_schedule(kernels: tuple[Kernel, ...], hw: Hardware) -> Schedule:
    """Tile every kernel for ``hw``, keeping the lowering's order."""
    return Schedule(hardware=hw, layers=tuple(schedule_kernel(k, hw) for k in kernels))
