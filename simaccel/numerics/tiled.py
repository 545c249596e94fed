"""GEMM kernels executed as the hardware does: im2col, then tile by tile in the schedule's
order, each output block's partial sums accumulated over its K tiles in the accumulator type.

Integer products are summed in float64 by BLAS, which is exact while every partial sum stays
below 2**53 (int8: any K below 5·10**11). After every K tile the partial sums are what the
accumulator SRAM holds: one outside the int32 range is an overflow, reported, never wrapped.
Float accumulators (fp32) round after every K tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simaccel.domain import DType
from simaccel.kernels import GemmKernel
from simaccel.model import Conv2d
from simaccel.numerics.quant import INT_MAX, round_to
from simaccel.shapes import resolve_padding
from simaccel.tiling import TilePlan


def im2col(x: np.ndarray, layer: Conv2d, groups: int) -> np.ndarray:
    """NHWC input → ``[groups, N·Ho·Wo, kh·kw·C/groups]`` rows, by strided slicing."""
    stride, dilation, (kh, kw) = layer.stride, layer.dilation, layer.kernel
    pads = resolve_padding(layer.padding, x.shape[1:3], layer.kernel, stride, dilation)
    padded = np.pad(x, ((0, 0), pads[:2], pads[2:], (0, 0)))
    n, h, w, c = padded.shape
    ho = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    taps = [padded[:, i * dilation[0]: i * dilation[0] + stride[0] * (ho - 1) + 1: stride[0],
                   j * dilation[1]: j * dilation[1] + stride[1] * (wo - 1) + 1: stride[1], :]
            for i in range(kh) for j in range(kw)]
    cols = np.stack(taps, axis=3)  # [N, Ho, Wo, kh·kw, C]
    cols = cols.reshape(n * ho * wo, kh * kw, groups, c // groups)
    return cols.transpose(2, 0, 1, 3).reshape(groups, n * ho * wo, kh * kw * (c // groups))


def conv_weights(kernel: np.ndarray, groups: int) -> np.ndarray:
    """HWIO kernel → ``[groups, kh·kw·C/groups, filters/groups]``."""
    kh, kw, cg, f = kernel.shape
    return kernel.reshape(kh * kw, cg, groups, f // groups).transpose(2, 0, 1, 3).reshape(
        groups, kh * kw * cg, f // groups)


@dataclass(frozen=True)
class GemmOutcome:
    """Accumulators ``[groups, M, N]`` after the last K tile, and whether any partial sum
    left the accumulator's range."""

    accumulators: np.ndarray
    overflow: bool


def run_tiles(a: np.ndarray, b: np.ndarray, init: np.ndarray, plan: TilePlan,
              kernel: GemmKernel, accumulator: DType) -> GemmOutcome:
    """Multiply ``a [g, M, K]`` by ``b [g, K, N]`` tile by tile under ``plan``, starting each
    output block from ``init`` (the bias, ``[g, N]``), in the plan's loop order."""
    g, m, k = a.shape
    n = b.shape[2]
    acc = np.empty((g, m, n))
    overflow = False
    limit = INT_MAX[DType.INT32]
    m_blocks = range(0, m, plan.tm)
    n_blocks = range(0, n, plan.tn)
    pairs = ([(i, j) for i in m_blocks for j in n_blocks] if plan.order == "mnk"
             else [(i, j) for j in n_blocks for i in m_blocks])
    for g0 in range(0, g, plan.tg):
        gs = slice(g0, min(g0 + plan.tg, g))
        for i, j in pairs:
            ms, ns = slice(i, i + plan.tm), slice(j, j + plan.tn)
            block = np.broadcast_to(init[gs, None, ns], acc[gs, ms, ns].shape).copy()
            for k0 in range(0, k, plan.tk):
                ks = slice(k0, k0 + plan.tk)
                block = block + np.matmul(a[gs, ms, ks], b[gs, ks, ns])
                if accumulator is DType.FP32:
                    block = round_to(block, DType.FP32)
                elif np.abs(block).max(initial=0) > limit:
                    overflow = True
            acc[gs, ms, ns] = block
    return GemmOutcome(acc, overflow)
