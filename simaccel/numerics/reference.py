"""The model's meaning, op by op, in float64 numpy: the reference everything is checked
against. Written independently of the tiled GEMM path: convolution is a sum over each output's
`sliding_window_view` window (channel-major, not the Program's position-major im2col)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from simaccel import ops_onnx
from simaccel.model import (
    Add,
    BatchNorm,
    Concat,
    Conv2d,
    Dense,
    Elementwise,
    Flatten,
    GlobalAvgPool,
    LayerNorm,
    LayerSpec,
    MatMul,
    OnnxOp,
    Pool2d,
    Reshape,
    Softmax,
    Transpose,
)
from simaccel.shapes import resolve_padding

erf = ops_onnx.erf  # one definition: the ONNX registry's


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, exact: x · Φ(x) = x/2 · (1 + erf(x/√2)) (BERT, `torch.nn.GELU()`, ONNX Gelu)."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation: x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))) (GPT-2's
    gelu_new, `torch.nn.GELU(approximate="tanh")`, ONNX Gelu approximate="tanh")."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "gelu": gelu,
    "gelu_tanh": gelu_tanh,
    "softmax": lambda x: softmax(x, -1),
}


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # a fully masked row (all -inf) is NaN, as in ONNX
        shifted = np.exp(x - x.max(axis=axis, keepdims=True))
        return shifted / shifted.sum(axis=axis, keepdims=True)


def windows(x: np.ndarray, window: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int], pads: tuple[int, int, int, int],
            fill: float = 0.0) -> np.ndarray:
    """Sliding windows of an NHWC tensor: ``[N, Ho, Wo, C, kh, kw]`` (a view when possible)."""
    padded = x if not any(pads) else np.pad(x, ((0, 0), pads[:2], pads[2:], (0, 0)),
                                            constant_values=fill)
    span = (dilation[0] * (window[0] - 1) + 1, dilation[1] * (window[1] - 1) + 1)
    view = sliding_window_view(padded, span, axis=(1, 2))
    return view[:, ::stride[0], ::stride[1], :, ::dilation[0], ::dilation[1]]


#: Elements of one chunk of windows copied out for a product (float64: 32 MiB), so that a
#: large image's convolution never holds all its windows at once.
WINDOW_ELEMENTS = 1 << 22


def conv2d(x: np.ndarray, kernel: np.ndarray, layer: Conv2d, integer: bool = False
           ) -> np.ndarray:
    """Direct grouped convolution, NHWC × HWIO → NHWC (no bias): every output is its
    window (strided, dilated, padded; ``[C/groups, kh, kw]``, channel-major) times the
    filter's weights, summed — one BLAS product per chunk of output rows and group, in
    float64 (exact for integers below 2**53). With ``integer`` (both operands hold
    integers) the products are taken in float32 over runs of terms whose partial sums cannot
    pass 2**24, where float32 holds every integer exactly, and the runs added in float64."""
    pads = resolve_padding(layer.padding, x.shape[1:3], layer.kernel, layer.stride,
                           layer.dilation)
    win = windows(x, layer.kernel, layer.stride, layer.dilation, pads)
    g, (kh, kw) = layer.groups, layer.kernel
    n, ho, wo, c = win.shape[:4]
    terms = c // g * kh * kw
    weights = kernel.reshape(kh, kw, c // g, g, layer.filters // g).transpose(
        3, 2, 0, 1, 4).reshape(g, terms, layer.filters // g)  # [g, C/g·kh·kw, F/g]
    dtype, run = np.float64, terms
    if integer:
        largest = float(np.abs(x).max(initial=0.0)) * float(np.abs(kernel).max(initial=0.0))
        run = terms if largest == 0 else int(2.0**24 // largest)
        dtype = np.float32 if run >= 1 else np.float64
        run = max(min(run, terms), 1) if dtype is np.float32 else terms
    weights = weights.astype(dtype, copy=False)
    out = np.empty((n, ho, wo, g, layer.filters // g))
    lines = max(1, WINDOW_ELEMENTS // max(wo * c * kh * kw, 1))
    for image in range(n):
        for top in range(0, ho, lines):
            cols = np.ascontiguousarray(win[image, top:top + lines], dtype=dtype)
            cols = cols.reshape(-1, g, terms).transpose(1, 0, 2)  # [g, rows, terms]
            part = out[image, top:top + lines].reshape(-1, g, layer.filters // g).transpose(
                1, 0, 2)  # [g, rows, F/g], a view of the output
            if dtype is np.float64:  # one product, written in place
                np.matmul(cols, weights, out=part)
                continue
            part[...] = np.matmul(cols[..., :run], weights[:, :run])
            for start in range(run, terms, run):
                part += np.matmul(cols[..., start:start + run], weights[:, start:start + run])
    return out.reshape(n, ho, wo, layer.filters)


def pool2d(x: np.ndarray, layer: Pool2d) -> np.ndarray:
    stride = layer.stride or layer.pool
    dil = layer.dilation
    pads = resolve_padding(layer.padding, x.shape[1:3], layer.pool, stride, dil)
    if layer.op == "maxpool2d":
        return windows(x, layer.pool, stride, dil, pads, fill=-np.inf).max(axis=(4, 5))
    total = windows(x, layer.pool, stride, dil, pads).sum(axis=(4, 5))
    if layer.count_include_pad:  # the padding counts, but for the uncounted overhang
        top, bottom, left, right = pads
        below, beyond = layer.uncounted
        counted = np.pad(np.ones((1, *x.shape[1:3], 1)),
                         ((0, 0), (top, bottom - below), (left, right - beyond), (0, 0)),
                         constant_values=1.0)
        count = windows(counted, layer.pool, stride, dil, (0, below, 0, beyond)).sum(
            axis=(4, 5))
        return total / count
    ones = np.ones((1, *x.shape[1:3], 1))
    count = windows(ones, layer.pool, stride, dil, pads).sum(axis=(4, 5))
    return total / count  # padding excluded from the average, as Keras and count_include_pad=False


def matmul(a: np.ndarray, b: np.ndarray, layer: MatMul) -> np.ndarray:
    if layer.transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b) * layer.scale


def layer_forward(layer: LayerSpec, ins: list[np.ndarray], params: dict) -> np.ndarray:
    """One layer in float64: what the model means."""
    if isinstance(layer, Conv2d | Dense):
        y = conv2d(ins[0], params["kernel"], layer) if isinstance(layer, Conv2d) \
            else np.matmul(ins[0], params["kernel"])
        if "bias" in params:  # y is new: add in place
            y += params["bias"]
        return ACTIVATIONS[layer.activation](y) if layer.activation else y
    if isinstance(layer, MatMul):
        y = matmul(ins[0], ins[1], layer)
        return ACTIVATIONS[layer.activation](y) if layer.activation else y
    if isinstance(layer, Pool2d):
        return pool2d(ins[0], layer)
    if isinstance(layer, GlobalAvgPool):
        return ins[0].mean(axis=(1, 2))
    if isinstance(layer, Add):
        out = ins[0]
        for other in ins[1:]:
            out = out * other if layer.op == "mul" else out + other
        return out
    if isinstance(layer, Concat):
        return np.concatenate(ins, axis=layer.axis)
    if isinstance(layer, Flatten):
        return ins[0].reshape(ins[0].shape[0], -1)
    if isinstance(layer, Reshape):
        return ins[0].reshape(layer.shape)
    if isinstance(layer, Transpose):
        return np.transpose(ins[0], layer.perm)
    if isinstance(layer, BatchNorm):
        scale = params["gamma"] / np.sqrt(params["var"] + layer.epsilon)
        y = ins[0] - params["mean"]  # new: scale and shift in place
        y *= scale
        y += params["beta"]
        return y
    if isinstance(layer, Elementwise):
        return ACTIVATIONS[layer.op](ins[0])
    if isinstance(layer, Softmax):
        return softmax(ins[0], layer.axis)
    if isinstance(layer, LayerNorm):
        x = ins[0]
        mean = x.mean(axis=layer.axis, keepdims=True)
        var = x.var(axis=layer.axis, keepdims=True)
        shape = [1] * x.ndim
        shape[layer.axis] = -1
        return (x - mean) / np.sqrt(var + layer.epsilon) * params["gamma"].reshape(shape) \
            + params["beta"].reshape(shape)
    if isinstance(layer, OnnxOp):
        consts = {pos: params.get(f"c{pos}") for pos, _ in layer.consts}
        return ops_onnx.run(layer.onnx_op, layer.operand_list(ins, consts),
                            dict(layer.attributes))
    raise NotImplementedError(layer.op)
