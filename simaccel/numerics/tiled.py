"""The hardware's view of a GEMM's operands: im2col rows of a convolution's input, its
weights as groups of K × N matrices, and the outcome of executing the GEMM (accumulators and
overflow). `simaccel.numerics.execute` runs the Program on these."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simaccel.model import Conv2d
from simaccel.shapes import resolve_padding


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
