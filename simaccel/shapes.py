"""Shape inference: one pure function per op, from input shapes to the output shape.

Each function raises `ShapeError(field, message)`; the graph builder adds the file and the
layer's position so the user sees ``model.json: layers[3].kernel: ...``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

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
    Opaque,
    Pool2d,
    Reshape,
    Softmax,
    Transpose,
)

Shape = tuple[int, ...]

#: Largest tensor (elements) accepted: 16 Gi elements is beyond any accelerator workload.
MAX_ELEMENTS = 1 << 34


class ShapeError(Exception):
    """A layer's inputs do not fit its op; ``field`` is relative to the layer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def resolve_padding(
    padding: str | tuple[int, int, int, int],
    in_hw: tuple[int, int],
    window: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int, int, int]:
    """Padding as (top, bottom, left, right) elements; ``same`` follows TensorFlow's rule
    (output = ceil(input / stride), the odd extra pad at the bottom/right)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for size, k, s, d in zip(in_hw, window, stride, dilation, strict=True):
            out = math.ceil(size / s)
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return (pads[0], pads[1], pads[2], pads[3])
    return padding  # type: ignore[return-value]


def window_output(
    in_hw: tuple[int, int],
    window: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pads: tuple[int, int, int, int],
) -> tuple[int, int]:
    """Output height and width of a sliding window (floor division, like PyTorch/TF)."""
    h = (in_hw[0] + pads[0] + pads[1] - dilation[0] * (window[0] - 1) - 1) // stride[0] + 1
    w = (in_hw[1] + pads[2] + pads[3] - dilation[1] * (window[1] - 1) - 1) // stride[1] + 1
    return h, w


def _one(inputs: list[Shape], rank: int | None = None, min_rank: int = 1) -> Shape:
    if len(inputs) != 1:
        raise ShapeError("inputs", f"expects 1 input, got {len(inputs)}")
    (shape,) = inputs
    if rank is not None and len(shape) != rank:
        raise ShapeError("inputs", f"expects a rank-{rank} tensor (NHWC), got shape {list(shape)}")
    if len(shape) < min_rank:
        raise ShapeError("inputs", f"expects rank >= {min_rank}, got shape {list(shape)}")
    return shape


def _windowed(layer: Conv2d | Pool2d, shape: Shape, window: tuple[int, int],
              dilation: tuple[int, int]) -> tuple[int, int]:
    stride = layer.stride or window
    pads = resolve_padding(layer.padding, (shape[1], shape[2]), window, stride, dilation)
    h, w = window_output((shape[1], shape[2]), window, stride, dilation, pads)
    if h <= 0 or w <= 0:
        field = "kernel" if isinstance(layer, Conv2d) else "pool"
        raise ShapeError(field, f"window {list(window)} (dilation {list(dilation)}) is larger "
                         f"than the padded input {shape[1]}x{shape[2]}")
    return h, w


def _conv2d(layer: Conv2d, inputs: list[Shape]) -> Shape:
    shape = _one(inputs, rank=4)
    channels = shape[3]
    if channels % layer.groups:
        raise ShapeError("groups", f"{layer.groups} does not divide the {channels} input channels")
    if layer.filters % layer.groups:
        raise ShapeError("groups", f"{layer.groups} does not divide the {layer.filters} filters")
    h, w = _windowed(layer, shape, layer.kernel, layer.dilation)
    return (shape[0], h, w, layer.filters)


def _pool2d(layer: Pool2d, inputs: list[Shape]) -> Shape:
    shape = _one(inputs, rank=4)
    h, w = _windowed(layer, shape, layer.pool, layer.dilation)
    return (shape[0], h, w, shape[3])


def _dense(layer: Dense, inputs: list[Shape]) -> Shape:
    shape = _one(inputs, min_rank=2)
    return shape[:-1] + (layer.units,)


def _matmul(layer: MatMul, inputs: list[Shape]) -> Shape:
    if len(inputs) != 2:
        raise ShapeError("inputs", f"expects 2 inputs (A, B), got {len(inputs)}")
    a, b = inputs
    if len(a) < 2 or len(b) < 2:
        raise ShapeError("inputs", f"expects rank >= 2 operands, got {list(a)} and {list(b)}")
    k_b, n = (b[-1], b[-2]) if layer.transpose_b else (b[-2], b[-1])
    if a[-1] != k_b:
        raise ShapeError("inputs", f"inner dimensions differ: A {list(a)} has K={a[-1]}, "
                         f"B {list(b)} has K={k_b}" + (" (transpose_b)" if layer.transpose_b
                                                       else ""))
    batch = _broadcast(a[:-2], b[:-2], "inputs")
    return batch + (a[-2], n)


def _broadcast(a: Shape, b: Shape, field: str) -> Shape:
    out = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + a), reversed((1,) * (len(a) - len(b)) + b),
                    strict=True):
        if x != y and 1 not in (x, y):
            raise ShapeError(field, f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y))
    return tuple(reversed(out))


def _add(layer: Add, inputs: list[Shape]) -> Shape:
    if len(inputs) < 2:
        raise ShapeError("inputs", f"expects 2 or more inputs, got {len(inputs)}")
    out = inputs[0]
    for shape in inputs[1:]:
        out = _broadcast(out, shape, "inputs")
    return out


def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ShapeError("axis", f"{axis} is out of range for rank {rank}")
    return axis % rank


def _concat(layer: Concat, inputs: list[Shape]) -> Shape:
    if len(inputs) < 2:
        raise ShapeError("inputs", f"expects 2 or more inputs, got {len(inputs)}")
    first = inputs[0]
    axis = _axis(layer.axis, len(first))
    for shape in inputs[1:]:
        same = len(shape) == len(first) and all(
            x == y for i, (x, y) in enumerate(zip(shape, first, strict=True)) if i != axis)
        if not same:
            raise ShapeError("inputs", f"shapes {list(first)} and {list(shape)} differ off "
                             f"the concat axis {layer.axis}")
    return first[:axis] + (sum(s[axis] for s in inputs),) + first[axis + 1:]


def _flatten(layer: Flatten, inputs: list[Shape]) -> Shape:
    shape = _one(inputs, min_rank=2)
    return (shape[0], math.prod(shape[1:]))


def _reshape(layer: Reshape, inputs: list[Shape]) -> Shape:
    shape = _one(inputs)
    target = list(layer.shape)
    total = math.prod(shape)
    if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
        raise ShapeError("shape", f"{target}: dimensions must be positive, with at most one -1")
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        if total % known:
            raise ShapeError("shape", f"{target} cannot hold {list(shape)} ({total} elements)")
        target[target.index(-1)] = total // known
    if math.prod(target) != total:
        raise ShapeError("shape", f"{target} has {math.prod(target)} elements, the input "
                         f"{list(shape)} has {total}")
    return tuple(target)


def _transpose(layer: Transpose, inputs: list[Shape]) -> Shape:
    shape = _one(inputs)
    if sorted(layer.perm) != list(range(len(shape))):
        raise ShapeError("perm", f"{list(layer.perm)} is not a permutation of the "
                         f"{len(shape)} axes of {list(shape)}")
    return tuple(shape[p] for p in layer.perm)


def _same(layer: LayerSpec, inputs: list[Shape]) -> Shape:
    return _one(inputs)


def _global_avgpool(layer: GlobalAvgPool, inputs: list[Shape]) -> Shape:
    shape = _one(inputs, rank=4)
    return (shape[0], shape[3])


def _normalised(layer: Softmax | LayerNorm, inputs: list[Shape]) -> Shape:
    shape = _one(inputs)
    _axis(layer.axis, len(shape))
    return shape


def _batchnorm(layer: BatchNorm, inputs: list[Shape]) -> Shape:
    return _one(inputs, min_rank=2)


INFER: dict[type, Callable[..., Shape]] = {
    Conv2d: _conv2d,
    Pool2d: _pool2d,
    Dense: _dense,
    MatMul: _matmul,
    Add: _add,
    Concat: _concat,
    Flatten: _flatten,
    Reshape: _reshape,
    Transpose: _transpose,
    GlobalAvgPool: _global_avgpool,
    BatchNorm: _batchnorm,
    Elementwise: _same,
    Softmax: _normalised,
    LayerNorm: _normalised,
    Opaque: lambda layer, inputs: tuple(layer.shape),
    OnnxOp: lambda layer, inputs: tuple(layer.shape),
}


def infer_shape(layer: LayerSpec, inputs: list[Shape]) -> Shape:
    """Output shape of ``layer`` given its input shapes (elements per axis)."""
    shape = INFER[type(layer)](layer, inputs)
    if math.prod(shape) > MAX_ELEMENTS:
        raise ShapeError("", f"output shape {list(shape)} has more than 2**34 elements")
    return shape
