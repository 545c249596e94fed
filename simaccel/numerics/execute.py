"""Numerics that execute the Program: the values move as the instructions say.

For one GEMM kernel (docs/architecture.md, "Numerics"): a ``load`` puts a block of an operand
matrix (A = the im2col'ed input [g, M, K], B = the weights [g, K, N]) into its region; a
``matmul`` reads its two operand blocks from the regions its ``reads`` name (or, for an
operand read in place from a resident tensor, from that tensor) and starts (``=``, from the
bias) or adds to (``+=``) the partial sums of its output block; a ``store`` or ``move``
writes the block to the output. Nothing else computes: a dropped, duplicated or misaddressed
instruction leaves a block unwritten, reads data that is not there, or adds a product twice,
and the kernel's check fails (`ProgramFault` names the instruction).

Integer products are summed by BLAS in float32 where that is exact — every product of a tile
and its partial sums below 2**24 (int8: a tile's K up to 1,032) — and in float64 otherwise,
exact while every partial sum stays below 2**53 (int8: any K below 5·10**11); tiles add up in
float64. After every matmul the partial sums are what the
accumulators hold: one outside the accumulator's range (int32 or int48) is an overflow,
reported, never wrapped.
Float accumulators (fp32) round after every matmul.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simaccel.domain import DType, Operand
from simaccel.numerics.quant import INT_MAX, round_to
from simaccel.numerics.sparse import Multiply, dense_multiply
from simaccel.numerics.tiled import GemmOutcome
from simaccel.program import Block, Instruction, Opcode


class ProgramFault(Exception):
    """The Program cannot be executed as written (a region read before it is loaded, a
    block opened twice, an output never stored, ...)."""


def _slice(block: Block, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[slice, ...]:
    return (slice(*block.g), slice(*rows), slice(*cols))


def _within(outer: Block, g: tuple[int, int], rows: tuple[int, int],
            cols: tuple[int, int]) -> tuple[slice, ...]:
    """Indices of the sub-block (g, rows, cols) inside a region holding ``outer``."""
    spans = ((outer.g, g), (outer.rows, rows), (outer.cols, cols))
    if any(inner[0] < have[0] or inner[1] > have[1] for have, inner in spans):
        raise ProgramFault(f"reads {g}×{rows}×{cols}, outside the region's block {outer}")
    return tuple(slice(inner[0] - have[0], inner[1] - have[0]) for have, inner in spans)


def run_gemm(instructions: Sequence[Instruction], a: np.ndarray, b: np.ndarray,
             init: np.ndarray, accumulator: DType,
             multiply: Multiply = dense_multiply) -> GemmOutcome:
    """Execute one GEMM kernel's ``instructions`` (program order) on ``a [g, M, K]`` and
    ``b [g, K, N]``, output blocks starting from ``init [g, N]`` (the bias); each matmul's
    product by ``multiply`` (an N:M array's: `simaccel.numerics.sparse`). Returns the
    accumulators [g, M, N] as stored. Raises `ProgramFault`."""
    g, m, _ = a.shape
    n = b.shape[2]
    largest = _magnitude(a) * _magnitude(b)  # of one product
    exact = accumulator is not DType.FP32 and _exact_in_float32(instructions, largest)
    dtype = np.float32 if exact else np.float64
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    # no partial sum can leave the accumulator's range when even K products of the largest
    # size and the largest bias cannot: then the check after every matmul is skipped
    limit = INT_MAX.get(accumulator, 0)  # float accumulators round instead
    may_overflow = largest * a.shape[2] + _magnitude(init) > limit
    out = np.full((g, m, n), np.nan)
    written = np.zeros((g, m, n), dtype=bool)
    regions: dict[int, tuple[Block, np.ndarray]] = {}
    open_blocks: dict[tuple, np.ndarray] = {}
    overflow = False
    for ins in instructions:
        if ins.op is Opcode.LOAD:
            if ins.index in regions:
                raise ProgramFault(f"#{ins.index} loads its region twice")
            source = a if ins.operand is Operand.IFMAP else b
            assert ins.block is not None
            regions[ins.index] = (ins.block, source[_slice(ins.block, ins.block.rows,
                                                            ins.block.cols)])
        elif ins.op is Opcode.MATMUL:
            blk = ins.block
            assert blk is not None
            key = (blk.g, blk.rows, blk.cols)
            lhs = _operand(regions, ins.reads[0], a, blk.g, blk.rows, blk.k, ins)
            rhs = _operand(regions, ins.reads[1], b, blk.g, blk.k, blk.cols, ins)
            if ins.accumulate:
                if key not in open_blocks:
                    raise ProgramFault(f"#{ins.index} adds to an output block never started")
                partial = open_blocks[key]
                partial += multiply(lhs, rhs, blk.k[0])  # the block's own partial sums
            else:
                if key in open_blocks:
                    raise ProgramFault(f"#{ins.index} restarts an output block still open")
                partial = init[slice(*blk.g), None, slice(*blk.cols)] + multiply(lhs, rhs, blk.k[0])
            if accumulator is DType.FP32:
                partial = round_to(partial, DType.FP32)
            elif may_overflow and _magnitude(partial) > limit:
                overflow = True
            open_blocks[key] = partial
        elif ins.op in (Opcode.STORE, Opcode.MOVE):
            blk = ins.block
            assert blk is not None
            key = (blk.g, blk.rows, blk.cols)
            if key not in open_blocks:
                raise ProgramFault(f"#{ins.index} stores an output block that is not open")
            index = _slice(blk, blk.rows, blk.cols)
            out[index] = open_blocks.pop(key)
            written[index] = True
    if not written.all():
        raise ProgramFault(f"{int((~written).sum())} outputs were never stored")
    return GemmOutcome(out, overflow)


def _exact_in_float32(instructions: Sequence[Instruction], largest: float) -> bool:
    """Whether every matmul's products and partial sums stay below 2**24, which float32
    holds exactly for the integer operands an integer accumulator implies: ``largest``
    (max|a| · max|b|) · the longest tile K < 2**24."""
    longest = max((i.block.k[1] - i.block.k[0] for i in instructions
                   if i.op is Opcode.MATMUL and i.block is not None), default=0)
    if not longest:
        return False
    return largest * longest < 2.0**24


def _magnitude(x: np.ndarray) -> float:
    """max |x| (0 for an empty array), without an |x| temporary."""
    return max(float(x.max()), -float(x.min())) if x.size else 0.0


def _operand(regions: dict, source: int, matrix: np.ndarray, g: tuple[int, int],
             rows: tuple[int, int], cols: tuple[int, int], ins: Instruction) -> np.ndarray:
    """A matmul operand block: from the region the load ``source`` filled, or read in place
    (``source`` −1) from a resident tensor."""
    if source < 0:
        return matrix[slice(*g), slice(*rows), slice(*cols)]
    if source not in regions:
        raise ProgramFault(f"#{ins.index} reads region #{source}, which nothing loaded")
    block, values = regions[source]
    return values[_within(block, g, rows, cols)]
