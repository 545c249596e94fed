"""The schedule: every kernel cut into tiles, each with its array (or vector) cycles, the
operand blocks it loads from DRAM, the buffers it frees and the output it stores. The
engine consumes it; energy and numerics read it.

A tile's ``loads`` happen before it can start (into a free buffer slot); after it finishes,
``frees`` names the operand blocks no later tile reuses; a tile that ``opens_output`` takes
an ofmap slot, which its output's store gives back. Block reuse follows the tile order:
consecutive tiles that read the same block load it once (see `simaccel.tiling`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace

from simaccel.domain import Dataflow, Operand
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel, VectorKernel
from simaccel.program import Unit
from simaccel.sparse_hw import SparseExecution, check_layer_formats, execution
from simaccel.systolic import FoldPlan, plan_folds, preload_hidden_cycles, sram_accesses
from simaccel.tiling import GemmBytes, TilePlan, gemm_bytes, plan_gemm_tiles, vector_chunks


@dataclass(frozen=True)
class Traffic:
    """Bytes read from and written to each SRAM buffer, and to and from DRAM; traffic adds
    up. SRAM bytes are per buffer because an access costs more in a bigger buffer."""

    ifmap_read_bytes: int = 0
    filter_read_bytes: int = 0
    ofmap_read_bytes: int = 0
    ifmap_write_bytes: int = 0
    filter_write_bytes: int = 0
    ofmap_write_bytes: int = 0
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(*(getattr(self, name) + getattr(other, name) for name in _TRAFFIC_FIELDS))

    @property
    def sram_read_bytes(self) -> int:
        """Bytes read from all SRAM buffers."""
        return self.ifmap_read_bytes + self.filter_read_bytes + self.ofmap_read_bytes

    @property
    def sram_write_bytes(self) -> int:
        """Bytes written to all SRAM buffers."""
        return self.ifmap_write_bytes + self.filter_write_bytes + self.ofmap_write_bytes

    def sram_bytes(self, operand: Operand) -> tuple[int, int]:
        """(read, write) bytes of one buffer."""
        return (getattr(self, f"{operand.value}_read_bytes"),
                getattr(self, f"{operand.value}_write_bytes"))


#: Traffic's field names, in order (read once: `dataclasses.fields` is slow per call).
_TRAFFIC_FIELDS = tuple(f.name for f in fields(Traffic))


@dataclass(frozen=True)
class Load:
    """One operand block fetched from DRAM into its SRAM buffer."""

    operand: Operand
    bytes: int


@dataclass(frozen=True)
class Tile:
    """One unit of work: ``compute_cycles`` on its unit, moving ``traffic``."""

    index: int
    folds: int
    compute_cycles: int
    traffic: Traffic
    loads: tuple[Load, ...] = ()
    frees: tuple[Operand, ...] = ()
    opens_output: bool = False
    store_bytes: int = 0
    #: GEMM: the (groups, m, k, n) ranges the tile computes; vector: its (elements,) range
    span: tuple[tuple[int, int], ...] = ()
    #: bytes the tile's output block occupies on chip while it accumulates (opens_output)
    output_bytes: int = 0


@dataclass(frozen=True)
class LayerSchedule:
    """A kernel, the unit it runs on, its fold plan and tiling (GEMMs only) and its tiles."""

    kernel: Kernel
    unit: Unit
    plan: FoldPlan | None
    tiles: tuple[Tile, ...]
    tiling: TilePlan | None = None

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


def _chunks(extent: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, extent)) for start in range(0, extent, size)]


def _share(total: int, lo1: int, hi1: int, ext1: int, lo2: int, hi2: int, ext2: int) -> int:
    """Bytes of a block's share of ``total``: its rows' share of the total, then its columns'
    share of that, each rounded down at the block's edges, so that shares are never negative
    and the blocks of a grid add up to ``total`` exactly."""
    rows = total * hi1 // ext1 - total * lo1 // ext1
    return rows * hi2 // ext2 - rows * lo2 // ext2


@dataclass(frozen=True)
class _Block:
    """One tile's coordinates before its loads and frees are known."""

    groups: tuple[int, int]
    m: tuple[int, int]
    k: tuple[int, int]
    n: tuple[int, int]
    last_k: bool
    last_of_group: bool


def _walk(kernel: GemmKernel, plan: TilePlan) -> Iterator[_Block]:
    """Tiles in execution order: group blocks, then the two outer loops, K innermost."""
    ms, ks, ns = _chunks(kernel.m, plan.tm), _chunks(kernel.k, plan.tk), _chunks(kernel.n,
                                                                                 plan.tn)
    for groups in _chunks(kernel.groups, plan.tg):
        pairs = ([(mm, nn) for mm in ms for nn in ns] if plan.order == "mnk"
                 else [(mm, nn) for nn in ns for mm in ms])
        for p, (mm, nn) in enumerate(pairs):
            for q, kk in enumerate(ks):
                yield _Block(groups, mm, kk, nn, q == len(ks) - 1,
                             p == len(pairs) - 1 and q == len(ks) - 1)


def gemm_tiles(kernel: GemmKernel, plan: TilePlan, hw: Hardware) -> tuple[Tile, ...]:
    """The tiles of a GEMM kernel under ``plan``, with loads, frees, cycles and traffic."""
    size = gemm_bytes(kernel, hw)
    sparse = execution(kernel, hw)
    blocks = list(_walk(kernel, plan))
    keys = [((b.groups, b.m, b.k), (b.groups, b.k, b.n)) for b in blocks]
    tiles = []
    for i, block in enumerate(blocks):
        loads = []
        frees = []
        for j, operand in enumerate((Operand.IFMAP, Operand.FILTER)):
            if i == 0 or keys[i - 1][j] != keys[i][j]:
                loads.append(Load(operand, _block_bytes(kernel, size, block, operand)))
            if i == len(blocks) - 1 or keys[i + 1][j] != keys[i][j]:
                frees.append(operand)
        tiles.append(_gemm_tile(i, kernel, block, tuple(loads), tuple(frees), size, hw,
                                sparse))
    return tuple(tiles)


def _block_bytes(kernel: GemmKernel, size: GemmBytes, block: _Block, operand: Operand) -> int:
    groups = block.groups[1] - block.groups[0]
    if operand is Operand.IFMAP:
        return groups * _share(size.ifmap, *block.m, kernel.m, *block.k, kernel.k)
    return groups * _share(size.filter, *block.k, kernel.k, *block.n, kernel.n)


def _gemm_tile(index: int, kernel: GemmKernel, block: _Block, loads: tuple[Load, ...],
               frees: tuple[Operand, ...], size: GemmBytes, hw: Hardware,
               sparse: SparseExecution) -> Tile:
    groups = block.groups[1] - block.groups[0]
    tm, tk, tn = (b[1] - b[0] for b in (block.m, block.k, block.n))
    # a sparse array folds fewer K rows (sparse.array_k) and reads weights in their format
    sub = GemmKernel(name=kernel.name, op=kernel.op, m=tm, k=sparse.array_k(tk), n=tn,
                     groups=groups, ifmap_elements=0, filter_elements=0, ofmap_elements=0)
    plan = plan_folds(sub, hw.array)
    cycles = plan.folds * plan.fold_cycles - (
        groups * plan.end_overlap if block.last_of_group else 0) \
        - preload_hidden_cycles(plan, hw.array.weight_preload, first=index == 0)
    use = sram_accesses(sub, plan)
    if sparse.saves_time:  # every activation is still read; weights in their format
        whole = replace(sub, k=tk)
        dense = sram_accesses(whole, plan_folds(whole, hw.array))
        use = replace(use, ifmap_reads=dense.ifmap_reads, filter_reads=dense.filter_reads)
    weight_share = sparse.weight_bytes / sparse.dense_weight_bytes \
        if sparse.dense_weight_bytes else 1.0
    outputs = groups * tm * tn
    acc = size.accumulator
    act, wgt = hw.dtypes.input.bytes, hw.dtypes.weight.bytes
    store = groups * _share(size.ofmap, *block.m, kernel.m, *block.n, kernel.n) \
        if block.last_k else 0
    psum_reads = outputs if block.k[0] > 0 else 0
    drained = outputs if block.last_k else 0
    loaded = {op: sum(load.bytes for load in loads if load.operand is op)
              for op in (Operand.IFMAP, Operand.FILTER)}
    traffic = Traffic(
        ifmap_read_bytes=use.ifmap_reads * act,
        filter_read_bytes=round(use.filter_reads * wgt * weight_share),
        ofmap_read_bytes=(use.ofmap_reads + psum_reads + drained) * acc,
        ifmap_write_bytes=loaded[Operand.IFMAP],
        filter_write_bytes=loaded[Operand.FILTER],
        ofmap_write_bytes=use.ofmap_writes * acc,
        dram_read_bytes=sum(loaded.values()),
        dram_write_bytes=store)
    psums_in_pes = hw.array.dataflow is Dataflow.OS and block.k == (0, kernel.k)
    held = outputs * (hw.dtypes.input.bytes if psums_in_pes else acc)
    return Tile(index=index, folds=plan.folds, compute_cycles=cycles, traffic=traffic,
                loads=loads, frees=frees, opens_output=block.k[0] == 0, store_bytes=store,
                span=(block.groups, block.m, block.k, block.n), output_bytes=held)


def vector_tiles(kernel: VectorKernel, hw: Hardware) -> tuple[Tile, ...]:
    """A vector kernel in pieces that fit the buffers: load inputs, compute, store."""
    if kernel.ops_per_element == 0:  # a view or an address-only op: no data moves
        return (Tile(index=0, folds=0, compute_cycles=0, traffic=Traffic()),)
    act = hw.dtypes.input.bytes
    chunks = vector_chunks(kernel, hw)
    tiles = []
    for i, (lo, hi) in enumerate(_chunks(kernel.elements, math.ceil(kernel.elements / chunks))):
        loaded = _share(kernel.input_elements * act, lo, hi, kernel.elements, 0, 1, 1)
        stored = (hi - lo) * act
        cycles = math.ceil((hi - lo) * kernel.ops_per_element / hw.vector.lanes)
        traffic = Traffic(ifmap_read_bytes=loaded, ofmap_read_bytes=stored,
                          ifmap_write_bytes=loaded, ofmap_write_bytes=stored,
                          dram_read_bytes=loaded, dram_write_bytes=stored)
        tiles.append(Tile(index=i, folds=0, compute_cycles=cycles, traffic=traffic,
                          loads=(Load(Operand.IFMAP, loaded),), frees=(Operand.IFMAP,),
                          opens_output=True, store_bytes=stored, span=((lo, hi),),
                          output_bytes=stored))
    return tuple(tiles)


def schedule_kernel(kernel: Kernel, hw: Hardware) -> LayerSchedule:
    """Fold and tile one kernel on ``hw``."""
    if isinstance(kernel, GemmKernel):
        tiling = plan_gemm_tiles(kernel, hw)
        return LayerSchedule(kernel=kernel, unit=Unit.ARRAY, plan=plan_folds(kernel, hw.array),
                             tiles=gemm_tiles(kernel, tiling, hw), tiling=tiling)
    return LayerSchedule(kernel=kernel, unit=Unit.VECTOR, plan=None,
                         tiles=vector_tiles(kernel, hw))


def build_schedule(kernels: tuple[Kernel, ...], hw: Hardware) -> Schedule:
    """Tile every kernel for ``hw``, keeping the lowering's order."""
    check_layer_formats(kernels, hw)
    return Schedule(hardware=hw, layers=tuple(schedule_kernel(k, hw) for k in kernels))
