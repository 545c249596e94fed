"""The schedule: every kernel cut into tiles, each with its array (or vector) cycles, the
operand blocks it loads from DRAM, the buffers it frees and the output it stores. The
engine consumes it; energy and numerics read it.

A tile's ``loads`` happen before it can start (into a free buffer slot); after it finishes,
``frees`` names the operand blocks no later tile reuses; a tile that ``opens_output`` takes
an ofmap slot, which its output's store gives back. Block reuse follows the tile order:
consecutive tiles that read the same block load it once (see `simaccel.tiling`).

**Fast-forward** (docs/architecture.md, "Fast-forward"). A kernel's tiles are nested loops
(group blocks, the two outer loops, K), and the middle iterations of each loop are alike: the
first iteration loads what the one before it did not, the last may be a shorter edge block,
but every iteration in between does the same work on blocks of the same sizes. A kernel's
``steps`` list its tiles with the middle of every loop of at least `FAST_FORWARD_MIN`
iterations elided: iterations 0 to 4 explicit (a `Rep` mark before iterations 2, 3 and 4),
or 0 to 5 when that makes ``count`` even, then a `Skip` standing for the next ``count``
iterations, then the last two iterations. The engine times the last two listed before the
skip from the end of the one before them, takes their mean as the steady state's period
(two iterations, and an even skip: double buffering behind a DRAM latency longer than a
tile's compute makes iterations alternate long and short) and restarts every unit of the
kernel ``count`` periods on, where the steady state would have it; the last middle iteration,
listed, lets the last one (which may differ:
an edge block, the kernel's end) follow it as in the full run (see `simaccel.engine`).
Totals (cycles, traffic, tiles) count the elided iterations: a kernel's cycles are summed per
iteration, its DRAM and buffer-write bytes follow from how often each operand block is
loaded (`_loaded_bytes`), exactly as the full tile list adds them up. ``exact=True`` lists
every tile (the numerics execute that list; a test holds the two within 0.5%).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace

from simaccel.domain import Dataflow, Operand
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel, VectorKernel
from simaccel.program import Unit
from simaccel.sparse_hw import SparseExecution, check_layer_formats, execution
from simaccel.systolic import (
    FoldPlan,
    end_overlap_under,
    plan_folds,
    preload_hidden_cycles,
    sram_accesses,
)
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

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(*(getattr(self, name) - getattr(other, name) for name in _TRAFFIC_FIELDS))

    def times(self, count: int) -> Traffic:
        """This traffic ``count`` times over."""
        return Traffic(*(getattr(self, name) * count for name in _TRAFFIC_FIELDS))

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


#: A loop of at least this many iterations has its middle fast-forwarded: iterations 0 to 4
#: (or 5, to make the skip even) and the last two are listed; at 9 the shortest skip elides 2.
FAST_FORWARD_MIN = 9


@dataclass(frozen=True)
class Rep:
    """Marks the start of an iteration of loop ``level`` that the engine's period measure
    uses (iterations 2, 3 and 4 of a loop whose middle is fast-forwarded: the period is the
    mean of iterations 3 and 4, measured from the end of iteration 2)."""

    level: int


@dataclass(frozen=True)
class Skip:
    """Stands for ``count`` more iterations of loop ``level``, each alike the one just
    listed (the one after the last `Rep` of that level)."""

    level: int
    count: int


Step = Tile | Rep | Skip


@dataclass(frozen=True)
class LayerSchedule:
    """A kernel, the unit it runs on, its fold plan and tiling (GEMMs only) and its tiles:
    ``steps`` the tiles in execution order with fast-forwarded stretches elided (`Skip`),
    ``tiles`` the tiles listed there; ``tile_count``, ``compute_cycles`` (the unit's busy
    cycles) and ``traffic`` are of all tiles, elided ones included. Built from ``tiles``
    alone (a hand-made schedule), the steps are the tiles and the totals their sums."""

    kernel: Kernel
    unit: Unit
    plan: FoldPlan | None
    tiles: tuple[Tile, ...] = ()
    tiling: TilePlan | None = None
    steps: tuple[Step, ...] = ()
    tile_count: int = -1
    compute_cycles: int = -1
    traffic: Traffic | None = None

    def __post_init__(self) -> None:
        if not self.steps:
            object.__setattr__(self, "steps", self.tiles)
        elif not self.tiles:
            object.__setattr__(self, "tiles", tuple(s for s in self.steps
                                                    if isinstance(s, Tile)))
        if self.tile_count < 0 or self.compute_cycles < 0 or self.traffic is None:
            tiles, cycles, traffic = _totals(self.steps)
            object.__setattr__(self, "tile_count", tiles)
            object.__setattr__(self, "compute_cycles", cycles)
            object.__setattr__(self, "traffic", traffic)

    @property
    def fast_forwarded(self) -> bool:
        """Whether some tiles are elided."""
        return any(isinstance(step, Skip) for step in self.steps)


@dataclass(frozen=True)
class Schedule:
    """Every kernel of a model, tiled for one hardware config, in execution order."""

    hardware: Hardware
    layers: tuple[LayerSchedule, ...] = field(default=())

    @property
    def fast_forwarded(self) -> bool:
        """Whether some kernel's tiles are elided (then the numerics need ``exact=True``)."""
        return any(layer.fast_forwarded for layer in self.layers)


def _chunks(extent: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, extent)) for start in range(0, extent, size)]


def _share(total: int, lo1: int, hi1: int, ext1: int, lo2: int, hi2: int, ext2: int) -> int:
    """Bytes of a block's share of ``total``: its rows' share of the total, then its columns'
    share of that, each rounded down at the block's edges, so that shares are never negative
    and the blocks of a grid add up to ``total`` exactly."""
    rows = total * hi1 // ext1 - total * lo1 // ext1
    return rows * hi2 // ext2 - rows * lo2 // ext2


def loop_steps(sizes: Sequence[int], fast_forward: bool
               ) -> Iterator[tuple[int, ...] | Rep | Skip]:
    """The positions (one index per loop, outermost first) of a loop nest of ``sizes``
    iterations per loop, in execution order, with `Rep` and `Skip` marks where the middle of
    a loop of at least `FAST_FORWARD_MIN` iterations is elided (``fast_forward``)."""
    last = len(sizes) - 1

    def loop(depth: int, prefix: tuple[int, ...]) -> Iterator[tuple[int, ...] | Rep | Skip]:
        n = sizes[depth]
        elide = fast_forward and n >= FAST_FORWARD_MIN
        # iterations 0..4 listed, or 0..5 so that the skip is even: alternating iterations
        # (double buffering) resume in the phase they left
        head = 5 if (n - 7) % 2 == 0 else 6
        for i in (*range(head), n - 2, n - 1) if elide else range(n):
            if elide and 2 <= i < head:
                yield Rep(depth)
            if depth == last:
                yield prefix + (i,)
            else:
                yield from loop(depth + 1, prefix + (i,))
            if elide and i == head - 1:
                yield Skip(depth, n - head - 2)

    yield from loop(0, ())


@dataclass(frozen=True)
class _Block:
    """One tile's coordinates before its loads and frees are known."""

    groups: tuple[int, int]
    m: tuple[int, int]
    k: tuple[int, int]
    n: tuple[int, int]
    last_k: bool
    last_of_group: bool


class _Walk:
    """A GEMM's loop nest under a `TilePlan`: group blocks, the two outer loops (``order``),
    K innermost; a position is one index per loop."""

    def __init__(self, kernel: GemmKernel, plan: TilePlan) -> None:
        self.g = _chunks(kernel.groups, plan.tg)
        self.m, self.k, self.n = (_chunks(kernel.m, plan.tm), _chunks(kernel.k, plan.tk),
                                  _chunks(kernel.n, plan.tn))
        self.mnk = plan.order == "mnk"
        outer = (self.m, self.n) if self.mnk else (self.n, self.m)
        self.sizes = (len(self.g), len(outer[0]), len(outer[1]), len(self.k))
        #: the loops as fast-forward sees them: the two outer loops as one when a new row
        #: looks like a new column (`_one_outer_loop`)
        self.merged = _one_outer_loop(self, outer)
        self.loops = ((self.sizes[0], self.sizes[1] * self.sizes[2], self.sizes[3])
                      if self.merged else self.sizes)

    def depends(self, operand: Operand) -> tuple[bool, bool, bool, bool]:
        """Which loops (group, outer, inner, K) ``operand``'s blocks depend on."""
        return {Operand.IFMAP: (True, self.mnk, not self.mnk, True),
                Operand.FILTER: (True, not self.mnk, self.mnk, True)}[operand]

    def expand(self, loop_position: tuple[int, ...]) -> tuple[int, ...]:
        """A position in ``loops`` as a position in ``sizes``."""
        if not self.merged:
            return loop_position
        g, ab, k = loop_position
        return (g, *divmod(ab, self.sizes[2]), k)

    def indices(self, pos: tuple[int, ...]) -> tuple[int, int, int, int]:
        """(group block, m block, k block, n block) of a position."""
        g, a, b, k = pos
        return (g, a, k, b) if self.mnk else (g, b, k, a)

    def position(self, index: int) -> tuple[int, ...]:
        """The position of the ``index``-th tile."""
        out = []
        for size in reversed(self.sizes):
            index, rem = divmod(index, size)
            out.append(rem)
        return tuple(reversed(out))

    def index(self, pos: tuple[int, ...]) -> int:
        """The tile index of a position."""
        flat = 0
        for size, i in zip(self.sizes, pos, strict=True):
            flat = flat * size + i
        return flat

    def keys(self, index: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """The (ifmap, filter) block keys of the ``index``-th tile."""
        g, m, k, n = self.indices(self.position(index))
        return (g, m, k), (g, k, n)

    def block(self, pos: tuple[int, ...]) -> _Block:
        g, m, k, n = self.indices(pos)
        _, a, b, _ = pos
        last_pair = a == self.sizes[1] - 1 and b == self.sizes[2] - 1
        last_k = k == len(self.k) - 1
        return _Block(self.g[g], self.m[m], self.k[k], self.n[n], last_k, last_pair and last_k)

    def reloads(self, operand: Operand) -> int:
        """How many times each block of ``operand`` is loaded: a block is loaded whenever
        the tile before read another block of that operand. Its key changes from one tile to
        the next when a loop it depends on advances, or when an inner loop of more than one
        iteration that it depends on wraps around."""
        depends = self.depends(operand)
        loads = 1
        for level in range(4):
            if any(depends[j] and (j == level or self.sizes[j] > 1)
                   for j in range(level, 4)):
                loads += math.prod(self.sizes[:level]) * (self.sizes[level] - 1)
        blocks = math.prod(s for s, d in zip(self.sizes, depends, strict=True) if d)
        return loads // blocks


def _one_outer_loop(walk: _Walk, outer: tuple[list, list]) -> bool:
    """Whether the two outer loops run as one loop of alike iterations: every block of both
    is whole (no shorter edge block), and moving to the next row loads what moving to the
    next column does — each operand's block changes at both or, when it depends on the row
    but not the column, the K loop changes it anyway."""
    def whole(chunks: list[tuple[int, int]]) -> bool:
        return chunks[-1][1] - chunks[-1][0] == chunks[0][1] - chunks[0][0]

    if not (whole(outer[0]) and whole(outer[1])):
        return False
    for operand in (Operand.IFMAP, Operand.FILTER):
        row, column, k = walk.depends(operand)[1:]
        if row and not column and not (k and walk.sizes[3] > 1):
            return False
    return True


def _gemm_steps(kernel: GemmKernel, plan: TilePlan, hw: Hardware, fast_forward: bool
                ) -> Iterator[Step]:
    """The steps of a GEMM kernel under ``plan``: tiles with loads, frees, cycles and
    traffic, and the fast-forward marks."""
    size = gemm_bytes(kernel, hw)
    sparse = execution(kernel, hw)
    walk = _Walk(kernel, plan)
    total = math.prod(walk.sizes)
    for step in loop_steps(walk.loops, fast_forward):
        if not isinstance(step, tuple):
            yield step
            continue
        step = walk.expand(step)
        i = walk.index(step)
        block = walk.block(step)
        here = walk.keys(i)
        before = walk.keys(i - 1) if i > 0 else None
        after = walk.keys(i + 1) if i < total - 1 else None
        loads = []
        frees = []
        for j, operand in enumerate((Operand.IFMAP, Operand.FILTER)):
            if before is None or before[j] != here[j]:
                loads.append(Load(operand, _block_bytes(kernel, size, block, operand)))
            if after is None or after[j] != here[j]:
                frees.append(operand)
        yield _gemm_tile(i, kernel, block, tuple(loads), tuple(frees), size, hw, sparse)


def gemm_tiles(kernel: GemmKernel, plan: TilePlan, hw: Hardware) -> tuple[Tile, ...]:
    """Every tile of a GEMM kernel under ``plan``, with loads, frees, cycles and traffic."""
    return tuple(s for s in _gemm_steps(kernel, plan, hw, False) if isinstance(s, Tile))


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
        groups * end_overlap_under(plan, hw.array.weight_preload)
        if block.last_of_group else 0) \
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


def _vector_steps(kernel: VectorKernel, hw: Hardware, fast_forward: bool) -> Iterator[Step]:
    """A vector kernel in pieces that fit the buffers: load inputs, compute, store."""
    if kernel.ops_per_element == 0:  # a view or an address-only op: no data moves
        yield Tile(index=0, folds=0, compute_cycles=0, traffic=Traffic())
        return
    act = hw.dtypes.input.bytes
    pieces = vector_chunks(kernel, hw)
    if pieces > kernel.elements:
        yield from _reduction_steps(kernel, hw, pieces, fast_forward)
        return
    chunks = _chunks(kernel.elements, math.ceil(kernel.elements / pieces))
    for step in loop_steps((len(chunks),), fast_forward):
        if not isinstance(step, tuple):
            yield step
            continue
        i = step[0]
        lo, hi = chunks[i]
        loaded = _share(kernel.input_elements * act, lo, hi, kernel.elements, 0, 1, 1)
        stored = (hi - lo) * act
        cycles = math.ceil((hi - lo) * kernel.ops_per_element / hw.vector.lanes)
        traffic = Traffic(ifmap_read_bytes=loaded, ofmap_read_bytes=stored,
                          ifmap_write_bytes=loaded, ofmap_write_bytes=stored,
                          dram_read_bytes=loaded, dram_write_bytes=stored)
        yield Tile(index=i, folds=0, compute_cycles=cycles, traffic=traffic,
                   loads=(Load(Operand.IFMAP, loaded),), frees=(Operand.IFMAP,),
                   opens_output=True, store_bytes=stored, span=((lo, hi),),
                   output_bytes=stored)


def _reduction_steps(kernel: VectorKernel, hw: Hardware, pieces: int, fast_forward: bool
                     ) -> Iterator[Step]:
    """A reduction cut along its input: each piece loads its share of the input and adds it
    to the partial sums, which the first piece opens in the ofmap buffer and the last stores
    (every output element, once)."""
    act = hw.dtypes.input.bytes
    parts = _chunks(kernel.input_elements, math.ceil(kernel.input_elements / pieces))
    lanes = hw.vector.lanes
    for step in loop_steps((len(parts),), fast_forward):
        if not isinstance(step, tuple):
            yield step
            continue
        i = step[0]
        lo, hi = parts[i]
        loaded = (hi - lo) * act
        last = i == len(parts) - 1
        stored = kernel.elements * act if last else 0
        cycles = -(-kernel.vector_ops * (hi - lo) // (kernel.input_elements * lanes))
        traffic = Traffic(ifmap_read_bytes=loaded, ofmap_read_bytes=stored,
                          ifmap_write_bytes=loaded, ofmap_write_bytes=stored,
                          dram_read_bytes=loaded, dram_write_bytes=stored)
        yield Tile(index=i, folds=0, compute_cycles=cycles, traffic=traffic,
                   loads=(Load(Operand.IFMAP, loaded),), frees=(Operand.IFMAP,),
                   opens_output=i == 0, store_bytes=stored, span=((0, kernel.elements),),
                   output_bytes=kernel.elements * act)


def vector_tiles(kernel: VectorKernel, hw: Hardware) -> tuple[Tile, ...]:
    """Every tile of a vector kernel."""
    return tuple(s for s in _vector_steps(kernel, hw, False) if isinstance(s, Tile))


def _totals(steps: Sequence[Step]) -> tuple[int, int, Traffic]:
    """(tiles, compute cycles, traffic) of ``steps``, each `Skip` counting its iterations as
    the iteration listed before it."""
    tiles, cycles, traffic = 0, 0, Traffic()
    marks: dict[int, tuple[int, int, Traffic]] = {}
    for step in steps:
        if isinstance(step, Tile):
            tiles, cycles, traffic = tiles + 1, cycles + step.compute_cycles, \
                traffic + step.traffic
        elif isinstance(step, Rep):
            marks[step.level] = (tiles, cycles, traffic)
        else:
            t0, c0, f0 = marks.pop(step.level)
            tiles += step.count * (tiles - t0)
            cycles += step.count * (cycles - c0)
            traffic = traffic + (traffic - f0).times(step.count)
    return tiles, cycles, traffic


def _loaded_bytes(kernel: GemmKernel, plan: TilePlan, hw: Hardware) -> Traffic:
    """The DRAM and buffer-write bytes of a GEMM's loads and stores, from how often each
    operand block is loaded: every block's share adds up to the operand's bytes, so the
    kernel loads ``reloads × groups × bytes`` of each operand and stores its output once."""
    size = gemm_bytes(kernel, hw)
    walk = _Walk(kernel, plan)
    ifmap = walk.reloads(Operand.IFMAP) * kernel.groups * size.ifmap
    weights = walk.reloads(Operand.FILTER) * kernel.groups * size.filter
    return Traffic(ifmap_write_bytes=ifmap, filter_write_bytes=weights,
                   dram_read_bytes=ifmap + weights, dram_write_bytes=kernel.groups * size.ofmap)


def _exact_bytes(kernel: Kernel, plan: TilePlan | None, hw: Hardware, summed: Traffic
                 ) -> Traffic:
    """``summed`` (added up over the listed tiles and the skipped iterations) with the bytes
    that depend on where a block's edges fall replaced by the kernel's exact totals: a
    GEMM's loads and stores (`_loaded_bytes`), a vector kernel's input, read once."""
    if isinstance(kernel, GemmKernel):
        assert plan is not None
        loaded = _loaded_bytes(kernel, plan, hw)
        return replace(summed, ifmap_write_bytes=loaded.ifmap_write_bytes,
                       filter_write_bytes=loaded.filter_write_bytes,
                       dram_read_bytes=loaded.dram_read_bytes,
                       dram_write_bytes=loaded.dram_write_bytes)
    if kernel.ops_per_element == 0:
        return summed
    read = kernel.input_elements * hw.dtypes.input.bytes
    return replace(summed, ifmap_read_bytes=read, ifmap_write_bytes=read, dram_read_bytes=read)


def schedule_kernel(kernel: Kernel, hw: Hardware, exact: bool = False) -> LayerSchedule:
    """Fold and tile one kernel on ``hw``; ``exact``: list every tile (no fast-forward)."""
    if isinstance(kernel, GemmKernel):
        tiling = plan_gemm_tiles(kernel, hw)
        sparse = execution(kernel, hw)  # a sparse array that skips folds fewer K rows
        plan: FoldPlan | None = plan_folds(replace(kernel, k=sparse.array_k(kernel.k))
                                           if sparse.saves_time else kernel, hw.array)
        steps = tuple(_gemm_steps(kernel, tiling, hw, not exact))
        unit = Unit.ARRAY
    else:
        tiling, plan, unit = None, None, Unit.VECTOR
        steps = tuple(_vector_steps(kernel, hw, not exact))
    tiles, cycles, traffic = _totals(steps)
    return LayerSchedule(kernel=kernel, unit=unit, plan=plan, steps=steps, tiling=tiling,
                         tile_count=tiles, compute_cycles=cycles,
                         traffic=_exact_bytes(kernel, tiling, hw, traffic))


def _shape(kernel: Kernel, hw: Hardware) -> Kernel:
    """What a kernel's schedule depends on: the kernel without its names (but with its own
    name where ``[sparsity] layer_formats`` sets its weights' format by name)."""
    named = kernel.name in hw.sparsity.layer_formats
    return replace(kernel, name=kernel.name if named else "", output="-", inputs=(),
                   fused=(), after=())


def build_schedule(kernels: tuple[Kernel, ...], hw: Hardware, exact: bool = False,
                   exact_kernels: frozenset[int] = frozenset()) -> Schedule:
    """Tile every kernel for ``hw``, keeping the lowering's order; kernels of the same shape
    (a transformer's layers) are tiled once. ``exact``: list every tile (of the kernels in
    ``exact_kernels`` only, when it is False)."""
    check_layer_formats(kernels, hw)
    done: dict[tuple[Kernel, bool], LayerSchedule] = {}
    layers = []
    for index, kernel in enumerate(kernels):
        whole = exact or index in exact_kernels
        key = (_shape(kernel, hw), whole)
        if key not in done:
            done[key] = schedule_kernel(kernel, hw, exact=whole)
        layers.append(replace(done[key], kernel=kernel))
    return Schedule(hardware=hw, layers=tuple(layers))
