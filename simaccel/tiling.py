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
scored by `pipeline_cycles`, an estimate of its time with loads, compute and stores of
equal tiles overlapping as the buffering allows (so one huge tile that cannot overlap its
load with compute loses to several that can) plus a small control overhead per tile; the
fastest wins, then the least DRAM traffic, then the fewest tiles. Splitting a spatial
dimension on multiples of the array side leaves the fold count unchanged; splitting the
streamed dimension pays the fold's fill and drain once more per chunk, which the estimate
includes. A bigger buffer only adds candidates, so its choice is never *estimated* slower;
the simulation can rank two near-equal plans the other way (by under 1% on the shipped
workloads and configs).

Approximations: a tile's ifmap bytes are its proportional share of the input (the halo a
convolution window re-reads across a tile edge is not counted); the bias is fetched with the
weights but initialises the accumulators, so it does not occupy the filter buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simaccel.domain import Dataflow, Operand
from simaccel.errors import InputError
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, VectorKernel
from simaccel.systolic import MAPPING, fill_drain_cycles, plan_folds

ORDERS = ("mnk", "nmk")


@dataclass(frozen=True)
class TilePlan:
    """Tile sizes (elements per dimension; ``tg`` groups) and the outer loop order."""

    tg: int
    tm: int
    tk: int
    tn: int
    order: str


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
    """Per-group DRAM footprint of a GEMM kernel's operands."""
    g = kernel.groups
    act, wgt, acc = hw.dtypes.input.bytes, hw.dtypes.weight.bytes, hw.dtypes.accumulator.bytes
    weight_bytes = act if kernel.filter_is_activation else wgt
    return GemmBytes(
        ifmap=math.ceil(kernel.ifmap_elements * act / g),
        filter=math.ceil((kernel.filter_elements * weight_bytes + kernel.bias_elements * acc)
                         / g),
        ofmap=math.ceil(kernel.ofmap_elements * act / g),
        accumulator=acc,
        weights=math.ceil(kernel.filter_elements * weight_bytes / g))


def _units(kernel: GemmKernel, hw: Hardware) -> dict[str, int]:
    """Granularity of each GEMM dimension: the array side it maps to; the streamed dimension
    is cut in chunks of the array's rows."""
    rows_dim, cols_dim, stream_dim = MAPPING[hw.array.dataflow]
    return {rows_dim: hw.array.rows, cols_dim: hw.array.cols, stream_dim: hw.array.rows}


def _psums_in_pes(hw: Hardware) -> bool:
    """Output stationary keeps partial sums in the PEs: when K is not split the ofmap buffer
    only receives finished outputs, in the output type; otherwise it holds accumulators."""
    return hw.array.dataflow is Dataflow.OS


def _sizes(extent: int, unit: int) -> list[int]:
    sizes = {extent}
    size = unit
    while size < extent:
        sizes.add(size)
        size *= 2
    return sorted(sizes)


def _blocks(extent: np.ndarray, size: np.ndarray) -> np.ndarray:
    return -(-extent // size)


def _fold_error(kernel: GemmKernel, hw: Hardware, operand: Operand, need: int,
                have: int) -> InputError:
    key = {Operand.IFMAP: "ifmap_kib", Operand.FILTER: "filter_kib",
           Operand.OFMAP: "ofmap_kib"}[operand]
    half = " (half the buffer: double-buffered)" if hw.sram.double_buffered else ""
    return InputError(f"hardware {hw.name}", f"sram.{key}",
                      f"{have} bytes{half} cannot hold one array fold of layer "
                      f"{kernel.name!r}: it needs {need} bytes")


def plan_gemm_tiles(kernel: GemmKernel, hw: Hardware) -> TilePlan:
    """Choose tile sizes and loop order for ``kernel`` (see the module docstring)."""
    m, k, n = kernel.m, kernel.k, kernel.n
    size = gemm_bytes(kernel, hw)
    cap = {op: buffer_bytes(hw, op) for op in Operand}
    unit = _units(kernel, hw)
    tm, tk, tn = (a.ravel() for a in np.meshgrid(
        np.array(_sizes(m, unit["m"]), dtype=np.int64),
        np.array(_sizes(k, unit["k"]), dtype=np.int64),
        np.array(_sizes(n, unit["n"]), dtype=np.int64), indexing="ij"))
    a_tile = -(-size.ifmap * tm * tk // (m * k))
    b_tile = -(-size.weights * tk * tn // (k * n))  # the bias goes to the accumulators
    c_tile = tm * tn * np.where(_psums_in_pes(hw) & (-(-k // tk) == 1), hw.dtypes.input.bytes,
                                size.accumulator)
    fits = (a_tile <= cap[Operand.IFMAP]) & (b_tile <= cap[Operand.FILTER]) & (
        c_tile <= cap[Operand.OFMAP])
    if not fits.any():
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
    stream = MAPPING[hw.array.dataflow][2]
    stream_blocks = {"m": n_m, "k": n_k, "n": n_n}[stream]
    overhead = fill_drain_cycles(hw.array.dataflow, hw.array.rows, hw.array.cols)
    spatial = math.ceil(getattr(kernel, MAPPING[hw.array.dataflow][0]) / hw.array.rows) * \
        math.ceil(getattr(kernel, MAPPING[hw.array.dataflow][1]) / hw.array.cols)
    compute = spatial * (getattr(kernel, stream) + stream_blocks * overhead)
    tiles = n_m * n_k * n_n
    best: tuple | None = None
    for order in ORDERS:
        time = np.where(fits, pipeline_cycles(compute, traffic[order] - size.ofmap, size.ofmap,
                                              n_m * n_n, hw, n_k), np.inf)
        i = choose(time, traffic[order], tiles)
        score = (time[i], traffic[order][i], tiles[i], ORDERS.index(order))
        if best is None or _better(score, best[0]):
            best = (score, TilePlan(1, int(tm[i]), int(tk[i]), int(tn[i]), order))
    assert best is not None
    plan = best[1]
    if (plan.tm, plan.tk, plan.tn) == (m, k, n) and kernel.groups > 1:
        plan = TilePlan(_group_block(kernel, size, cap, hw), m, k, n, plan.order)
    return plan


#: Cycles of control overhead the tiler charges per tile (issuing its DMA descriptors and
#: array instructions). Only the choice sees it: without it the estimate would always prefer
#: smaller tiles for a slightly shorter pipeline prologue.
TILE_OVERHEAD_CYCLES = 64


def choose(time: np.ndarray, traffic: np.ndarray, tiles: np.ndarray) -> int:
    """Index of the candidate to use: the fastest by the estimate, then the least DRAM
    traffic, then the fewest tiles. A strict order on the estimate keeps the choice sane
    across configs: a bigger buffer only adds candidates, so its pick is never estimated
    slower."""
    return int(np.lexsort((tiles, traffic, time))[0])


def _better(a: tuple, b: tuple) -> bool:
    """Compare (time, traffic, tiles, order) scores of the two loop orders' picks."""
    return a < b


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
        period = np.maximum(np.maximum(each, load + store / tiles_per_block),
                            (load + latency + each) / 2)
        return load + latency + (tiles - 1) * period + each + store + overhead
    return tiles * (load + latency + each) + blocks * store + overhead


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
    pipeline estimate says pay off."""
    act = hw.dtypes.input.bytes
    need_in = kernel.input_elements * act
    need_out = kernel.elements * act
    cap_in, cap_out = buffer_bytes(hw, Operand.IFMAP), buffer_bytes(hw, Operand.OFMAP)
    least = max(1, math.ceil(need_in / cap_in), math.ceil(need_out / cap_out))
    if least > kernel.elements:
        raise InputError(f"hardware {hw.name}", "sram.ifmap_kib",
                         f"too small for one output element of layer {kernel.name!r}")
    counts = [least]  # the same options for every buffer size above the least one
    while counts[-1] * 2 <= min(kernel.elements, max(least, MAX_VECTOR_CHUNKS)):
        counts.append(counts[-1] * 2)
    tiles = np.array(counts, dtype=np.int64)
    cycles = np.ceil(kernel.vector_ops / tiles / hw.vector.lanes) * tiles
    time = pipeline_cycles(cycles, np.full(len(counts), need_in), need_out, tiles, hw)
    return counts[choose(time, np.full(len(counts), need_in + need_out), tiles)]
