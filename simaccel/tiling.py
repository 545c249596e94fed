"""Tiling: cut each kernel into tiles whose operands fit the SRAM buffers.

A GEMM tile is a block of ``tg`` groups × ``tm`` rows × ``tk`` reduction × ``tn`` columns.
Each buffer holds one tile's share of its operand (half the buffer when double-buffered, so
that the next tile loads into the other half): the ifmap buffer the tile's share of the
layer's input, the filter buffer its weights, the ofmap buffer its ``tm × tn`` accumulators
(finished outputs in the output type under output stationary with K whole: the partial sums
stay in the PEs).
K is always the innermost loop, so partial sums stay on chip and every output is written to
DRAM once. The two outer loops run in one of two orders:

* ``mnk``: for each row block, every column block. The ifmap block is reused across column
  blocks when the whole K fits (one K block); the weights are re-fetched for every row block
  unless they all fit at once.
* ``nmk``: the mirror image: weights reused across row blocks, ifmap re-fetched per column
  block unless it all fits.

An operand block stays resident while consecutive tiles use the same block; every other
use is a re-fetch, and the DRAM traffic counts it.

**Choosing the tiling.** Candidate sizes per dimension are the array fold unit times powers
of two, and the whole dimension. Every combination that fits, in both loop orders, is
scored by `gemm_pipeline_cycles`, an estimate of its time with loads, compute and stores
overlapping as the buffering allows, which follows the tiles that differ (the K split's
shorter last tile; a resident block arriving whole with its first tile), plus a small
control overhead per tile. Plans within `TIME_SLACK` of the fastest estimate count as equally
fast; the least DRAM traffic among them wins, then the fastest, then the fewest tiles.
Splitting a spatial dimension on multiples of the array side leaves the fold count
unchanged; splitting the streamed dimension pays the fold's fill and drain once more per
chunk, which the estimate includes. docs/memory.md gives the formulas and how the estimate
ranks against the simulation.

Approximations: a tile's ifmap bytes are its proportional share of the input (the halo a
convolution window re-reads across a tile edge is not counted); the bias is fetched with the
weights but initialises the accumulators, so it does not occupy the filter buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from simaccel.domain import Dataflow, Operand
from simaccel.errors import InputError
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, VectorKernel
from simaccel.sparse_hw import execution
from simaccel.systolic import MAPPING, fill_drain_cycles, plan_folds

ORDERS = ("mnk", "nmk")


@dataclass(frozen=True)
class TilePlan:
    """Tile sizes (elements per dimension; ``tg`` groups) and the outer loop order.
    ``single``: the buffers are too small to double-buffer this kernel, so each block takes
    a whole buffer (loads and compute no longer overlap within an operand)."""

    tg: int
    tm: int
    tk: int
    tn: int
    order: str
    single: bool = False


@dataclass(frozen=True)
class GemmBytes:
    """Bytes of one group's operands as they sit in DRAM, and bytes per accumulator."""

    ifmap: int
    filter: int
    ofmap: int
    accumulator: int
    weights: int = 0  #: the filter without its bias: what occupies the filter buffer


def buffer_bytes(hw: Hardware, operand: Operand) -> int:
    """Bytes one tile may use in ``operand``'s buffer (half of it when double-buffered)."""
    size = hw.sram.size_bytes(operand)
    return size // 2 if hw.sram.double_buffered else size


def gemm_bytes(kernel: GemmKernel, hw: Hardware) -> GemmBytes:
    """Per-group DRAM footprint of a GEMM kernel's operands (bytes); the weights in their
    storage format (`simaccel.sparse_hw.execution`: dense unless the config compresses)."""
    g = kernel.groups
    act, acc = hw.dtypes.input.bytes, hw.dtypes.accumulator.bytes
    stored = execution(kernel, hw).weight_bytes  # in the weights' storage format
    return GemmBytes(
        ifmap=math.ceil(kernel.ifmap_elements * act / g),
        filter=math.ceil((stored + kernel.bias_elements * acc) / g),
        ofmap=math.ceil(kernel.ofmap_elements * act / g),
        accumulator=acc,
        weights=math.ceil(stored / g))


def _units(kernel: GemmKernel, hw: Hardware) -> dict[str, int]:
    """Granularity of each GEMM dimension: the array side it maps to; the streamed dimension
    is cut in chunks of the array's rows. An array that skips pruned weights folds only
    ``k_ratio`` of K (`simaccel.sparse_hw`): one fold then covers rows / k_ratio of K."""
    rows_dim, cols_dim, stream_dim = MAPPING[hw.array.dataflow]
    units = {rows_dim: hw.array.rows, cols_dim: hw.array.cols, stream_dim: hw.array.rows}
    ratio = execution(kernel, hw).k_ratio
    units["k"] = -(-units["k"] * ratio.denominator // ratio.numerator)
    return units


def _psums_in_pes(hw: Hardware) -> bool:
    """Output stationary keeps partial sums in the PEs: when K is not split the ofmap buffer
    only receives finished outputs, in the output type; otherwise it holds accumulators."""
    return hw.array.dataflow is Dataflow.OS


def _sizes(extent: int, unit: int, finest: bool = False) -> list[int]:
    """Candidate tile sizes: the array unit times powers of two, and the whole extent;
    ``finest`` adds the unit's halves down to 1 (a fold streamed in pieces)."""
    sizes = {extent}
    size = unit
    while size < extent:
        sizes.add(size)
        size *= 2
    while finest and unit > 1:
        unit //= 2
        sizes.add(min(unit, extent))
    return sorted(sizes)


def _blocks(extent: np.ndarray, size: np.ndarray) -> np.ndarray:
    return -(-extent // size)


def _fold_error(kernel: GemmKernel, hw: Hardware, operand: Operand, need: int,
                have: int) -> InputError:
    key = {Operand.IFMAP: "ifmap_kib", Operand.FILTER: "filter_kib",
           Operand.OFMAP: "ofmap_kib"}[operand]
    return InputError(*hw.where(f"sram.{key}"),
                      f"{have} bytes cannot hold anything of layer {kernel.name!r}: its "
                      f"smallest tile needs {need} bytes")


def single_buffered(hw: Hardware) -> Hardware:
    """``hw`` with its buffers single-buffered (each block may use a whole buffer)."""
    return hw.model_copy(update={"sram": hw.sram.model_copy(update={"double_buffered": False})})


def plan_gemm_tiles(kernel: GemmKernel, hw: Hardware) -> TilePlan:
    """Choose tile sizes and loop order for ``kernel`` (see the module docstring).

    A buffer too small for one array fold is never refused for that alone: the kernel falls
    back to single buffering (each block a whole buffer), then to folds streamed in pieces
    (tiles narrower than the array, each piece paying its own fill and drain). Raises
    `InputError` only when a buffer cannot hold the smallest tile at all.
    """
    attempts = [(hw, False, False)]
    if hw.sram.double_buffered:
        attempts.append((single_buffered(hw), True, False))
    attempts.append((single_buffered(hw), hw.sram.double_buffered, True))
    for variant, single, finest in attempts:
        plan = _plan_gemm_tiles(kernel, variant, finest, last=finest)
        if plan is not None:
            return replace(plan, single=single)
    raise AssertionError("unreachable: the last attempt raises")


def _plan_gemm_tiles(kernel: GemmKernel, hw: Hardware, finest: bool,
                     last: bool) -> TilePlan | None:
    """The best plan with the given candidate sizes, None if nothing fits (an `InputError`
    naming the buffer when ``last``)."""
    m, k, n = kernel.m, kernel.k, kernel.n
    size = gemm_bytes(kernel, hw)
    cap = {op: buffer_bytes(hw, op) for op in Operand}
    unit = _units(kernel, hw)
    tm, tk, tn = (a.ravel() for a in np.meshgrid(
        np.array(_sizes(m, unit["m"], finest), dtype=np.int64),
        np.array(_sizes(k, unit["k"], finest), dtype=np.int64),
        np.array(_sizes(n, unit["n"], finest), dtype=np.int64), indexing="ij"))
    a_tile = -(-size.ifmap * tm * tk // (m * k))
    b_tile = -(-size.weights * tk * tn // (k * n))  # the bias goes to the accumulators
    c_tile = tm * tn * np.where(_psums_in_pes(hw) & (-(-k // tk) == 1), hw.dtypes.input.bytes,
                                size.accumulator)
    fits = (a_tile <= cap[Operand.IFMAP]) & (b_tile <= cap[Operand.FILTER]) & (
        c_tile <= cap[Operand.OFMAP])
    if not fits.any():
        if not last:
            return None
        needs = ((Operand.IFMAP, a_tile), (Operand.FILTER, b_tile), (Operand.OFMAP, c_tile))
        for operand, need in needs:  # a buffer that no tile shape fits
            if need.min() > cap[operand]:
                raise _fold_error(kernel, hw, operand, int(need.min()), cap[operand])
        operand, need = max(needs, key=lambda x: x[1][0] / cap[x[0]])  # none fits all three
        raise _fold_error(kernel, hw, operand, int(need[0]), cap[operand])
    n_m, n_k, n_n = _blocks(m, tm), _blocks(k, tk), _blocks(n, tn)
    one_k = n_k == 1
    traffic = {
        "mnk": size.ifmap * np.where(one_k, 1, n_n)
        + size.filter * np.where(one_k & (n_n == 1), 1, n_m) + size.ofmap,
        "nmk": size.filter * np.where(one_k, 1, n_m)
        + size.ifmap * np.where(one_k & (n_m == 1), 1, n_n) + size.ofmap,
    }
    # With K whole, one operand's block stays resident over the inner loop and arrives in
    # one piece with the first tile that uses it: (bytes of all such loads, how many).
    resident = {
        "mnk": (np.where(one_k, np.where(n_n == 1, size.filter, size.ifmap), 0),
                np.where(one_k & (n_n > 1), n_m, 1)),
        "nmk": (np.where(one_k, np.where(n_m == 1, size.ifmap, size.filter), 0),
                np.where(one_k & (n_m > 1), n_n, 1)),
    }
    rows_dim, _, stream = MAPPING[hw.array.dataflow]
    stream_blocks = {"m": n_m, "k": n_k, "n": n_n}[stream]
    overhead = fill_drain_cycles(hw.array.dataflow, hw.array.rows, hw.array.cols)
    spatial = math.ceil(getattr(kernel, MAPPING[hw.array.dataflow][0]) / hw.array.rows) * \
        math.ceil(getattr(kernel, MAPPING[hw.array.dataflow][1]) / hw.array.cols)
    compute = spatial * (getattr(kernel, stream) + stream_blocks * overhead)
    # the K split's last tile is shorter: its share of the compute, full tiles' and its own
    rk = k - (n_k - 1) * tk
    if stream == "k":
        k_share = (tk + overhead) / (k + n_k * overhead), (rk + overhead) / (k + n_k * overhead)
    else:  # K on the array rows: a tile's folds
        folds = -(-k // hw.array.rows)
        k_share = -(-tk // hw.array.rows) / folds, -(-rk // hw.array.rows) / folds
    tiles = n_m * n_k * n_n
    times, traffics = [], []
    g = kernel.groups  # run back to back: the pipeline goes on from one group to the next
    for order in ORDERS:
        resident_bytes, resident_loads = resident[order]
        times.append(np.where(fits, gemm_pipeline_cycles(
            g * compute, k_share, g * (traffic[order] - size.ofmap), (tk / k, rk / k),
            g * size.ofmap, g * n_m * n_n, n_k, g * resident_bytes, g * resident_loads, hw),
            np.inf))
        traffics.append(traffic[order])
    i = choose(np.concatenate(times), np.concatenate(traffics), np.concatenate([tiles, tiles]),
               slack=TIME_SLACK)
    order, i = ORDERS[i // len(tm)], i % len(tm)
    plan = TilePlan(1, int(tm[i]), int(tk[i]), int(tn[i]), order)
    if (plan.tm, plan.tk, plan.tn) == (m, k, n) and kernel.groups > 1:
        plan = TilePlan(_group_block(kernel, size, cap, hw), m, k, n, plan.order)
    return plan


#: Cycles of control overhead the tiler charges per tile (issuing its DMA descriptors and
#: array instructions). Only the choice sees it: without it the estimate would always prefer
#: smaller tiles for a slightly shorter pipeline prologue.
TILE_OVERHEAD_CYCLES = 64


#: Plans estimated within this fraction of the fastest count as equally fast, and the one
#: with the least DRAM traffic among them is taken: the estimate is not that precise, and
#: DRAM bytes cost energy.
TIME_SLACK = 0.01


def choose(time: np.ndarray, traffic: np.ndarray, tiles: np.ndarray,
           slack: float = 0.0) -> int:
    """Index of the candidate to use: among those estimated within ``slack`` of the
    fastest, the least DRAM traffic, then the fastest, then the fewest tiles (the first
    such index). A bigger buffer only adds candidates, so its pick is never estimated slower
    than the smaller buffer's by more than ``slack``."""
    near = time <= time.min() * (1 + slack)
    masked = np.where(near, traffic, np.inf)
    return int(np.lexsort((tiles, time, masked))[0])


def pipeline_cycles(compute: np.ndarray, load_bytes: np.ndarray, store_bytes: int | np.ndarray,
                    blocks: np.ndarray, hw: Hardware, tiles_per_block: np.ndarray | int = 1
                    ) -> np.ndarray:
    """Estimated cycles of a kernel cut into ``blocks`` output blocks of ``tiles_per_block``
    equal tiles each (the K split), whose loads, compute and stores pipeline.

    Per tile: load L on the DRAM channel, compute C, access latency D; per output block a
    store S. Double-buffered, a tile's load needs the slot of the tile two before it, so two
    tiles take at least L + D + C; a block's store drains while the next block computes. Tiles
    follow each other every max(C, L + S / tiles_per_block, (L + D + C) / 2), after the first
    load and before the last store: L + D + (tiles − 1) · max(...) + C + S. Single-buffered
    nothing overlaps: tiles · (L + D + C) + blocks · S.
    """
    tiles = blocks * tiles_per_block
    overhead = tiles * TILE_OVERHEAD_CYCLES
    bandwidth = hw.dram_bytes_per_cycle
    load = load_bytes / tiles / bandwidth
    store = store_bytes / blocks / bandwidth
    each = compute / tiles
    latency = hw.dram_latency_cycles
    if hw.sram.double_buffered:
        period = _step(each, load, store / tiles_per_block, latency)
        return load + latency + (tiles - 1) * period + each + store + overhead
    return tiles * (load + latency + each) + blocks * store + overhead


def _step(previous: np.ndarray, load: np.ndarray, store_share: np.ndarray,
          latency: int) -> np.ndarray:
    """Cycles from the start of a tile of compute ``previous`` to the start of the next,
    which loads ``load`` cycles of data, double-buffered: its load hides behind that compute
    (sharing the channel with ``store_share`` of a block's store), and two tiles take at
    least load + latency + compute."""
    return np.maximum(np.maximum(previous, load + store_share),
                      (load + latency + previous) / 2)


def gemm_pipeline_cycles(compute: np.ndarray, compute_share: tuple, load_bytes: np.ndarray,
                         load_share: tuple, store_bytes: int, blocks: np.ndarray,
                         tiles_per_block: np.ndarray, resident_bytes: np.ndarray,
                         resident_loads: np.ndarray, hw: Hardware) -> np.ndarray:
    """Estimated cycles of a GEMM cut into ``blocks`` output blocks of ``tiles_per_block``
    K tiles, like `pipeline_cycles` but with the two ways its tiles are not equal:

    * the K split's last tile is shorter: a block's full tiles and its last one take
      ``compute_share`` (full, last) of a block's compute and ``load_share`` of its loads;
    * with K whole, ``resident_bytes`` arrive as ``resident_loads`` blocks that stay
      resident over several tiles, each whole with the first tile that uses it.

    Double-buffered, a tile's load needs the slot of the tile two before it and the DMA
    runs in order, so a load overlaps only the previous tile's compute: going from a tile of
    compute C to one that loads L takes P(C, L) = max(C, L + S / tiles_per_block,
    (L + D + C) / 2). A big load after a short tile shows up as a stall, which an average
    over the tiles would hide. Single-buffered nothing overlaps.
    """
    bandwidth = hw.dram_bytes_per_cycle
    latency = hw.dram_latency_cycles
    tiles = blocks * tiles_per_block
    per_block = compute / blocks
    c_full, c_last = per_block * compute_share[0], per_block * compute_share[1]
    split = tiles_per_block > 1
    loads = np.where(split, load_bytes, load_bytes - resident_bytes) / blocks / bandwidth
    l_full = np.where(split, loads * load_share[0], loads)
    l_last = np.where(split, loads * load_share[1], loads)
    extra = resident_bytes / resident_loads / bandwidth
    store = store_bytes / blocks / bandwidth
    overhead = tiles * TILE_OVERHEAD_CYCLES
    if not hw.sram.double_buffered:
        return (tiles * latency + blocks * ((tiles_per_block - 1) * (l_full + c_full)
                                            + l_last + c_last)
                + resident_loads * extra + blocks * store + overhead)

    def step(previous, load):
        return _step(previous, load, store / tiles_per_block, latency)

    k_split = (l_full + latency + blocks * ((tiles_per_block - 2) * step(c_full, l_full)
                                             + step(c_full, l_last))
               + (blocks - 1) * step(c_last, l_full))
    resident = (l_full + extra + latency + (resident_loads - 1) * step(c_full, l_full + extra)
                + (tiles - resident_loads) * step(c_full, l_full))
    return np.where(split, k_split, resident) + c_last + store + overhead


#: Most pieces a vector kernel is cut into for pipelining (more only when it must, to fit).
MAX_VECTOR_CHUNKS = 256


def _group_block(kernel: GemmKernel, size: GemmBytes, cap: dict[Operand, int],
                 hw: Hardware) -> int:
    """Groups per tile when a whole group fits: a power of two (or all that fit) chosen by
    the same pipeline estimate as the tile sizes."""
    out = hw.dtypes.input.bytes if _psums_in_pes(hw) else size.accumulator
    fit = min(cap[Operand.IFMAP] // max(size.ifmap, 1), cap[Operand.FILTER] // max(size.weights, 1),
              cap[Operand.OFMAP] // (kernel.m * kernel.n * out), kernel.groups)
    options = sorted({min(fit, 1 << i) for i in range(fit.bit_length())} | {max(fit, 1)})
    tg = np.array(options, dtype=np.int64)
    blocks = -(-kernel.groups // tg)
    per_group = plan_folds(kernel, hw.array)
    compute = np.full(len(options), per_group.compute_cycles, dtype=np.float64)
    load = np.full(len(options), (size.ifmap + size.filter) * kernel.groups, dtype=np.float64)
    time = pipeline_cycles(compute, load, size.ofmap * kernel.groups, blocks, hw)
    return options[choose(time, load, blocks)]


def vector_chunks(kernel: VectorKernel, hw: Hardware) -> int:
    """How many pieces a vector kernel is cut into: enough that each piece's input fits the
    ifmap buffer and its output the ofmap buffer, and as many more (powers of two) as the
    pipeline estimate says pay off. A reduction whose input for one output does not fit (a
    bias gradient summing a whole batch) is cut along its input instead: more pieces than
    outputs, its partial sums kept in the ofmap buffer (`simaccel.schedule`)."""
    act = hw.dtypes.input.bytes
    need_in = kernel.input_elements * act
    need_out = kernel.elements * act
    # a buffer whose half holds nothing is used whole (single-buffered), as GEMMs do
    cap_in, cap_out = (buffer_bytes(hw, op) or hw.sram.size_bytes(op)
                       for op in (Operand.IFMAP, Operand.OFMAP))
    for cap, key in ((cap_in, "sram.ifmap_kib"), (cap_out, "sram.ofmap_kib")):
        if cap < act:
            raise InputError(*hw.where(key), f"{cap} bytes cannot hold one element of layer "
                             f"{kernel.name!r}")
    least = max(1, math.ceil(need_in / cap_in), math.ceil(need_out / cap_out))
    if least > kernel.elements:  # a reduction: its input streams in pieces, sums stay on chip
        if need_out > cap_out:
            raise InputError(*hw.where("sram.ofmap_kib"),
                             f"{cap_out} bytes cannot hold the {kernel.elements} partial sums "
                             f"of layer {kernel.name!r}")
        return max(least, math.ceil(need_in / cap_in))
    counts = [least]  # the same options for every buffer size above the least one
    while counts[-1] * 2 <= min(kernel.elements, max(least, MAX_VECTOR_CHUNKS)):
        counts.append(counts[-1] * 2)
    tiles = np.array(counts, dtype=np.int64)
    cycles = np.ceil(kernel.vector_ops / tiles / hw.vector.lanes) * tiles
    time = pipeline_cycles(cycles, np.full(len(counts), need_in), need_out, tiles, hw)
    return counts[choose(time, np.full(len(counts), need_in + need_out), tiles)]
