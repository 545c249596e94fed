"""Lowering: the shaped graph becomes a list of kernels, by named passes run in order.

1. `lower_layers`: every layer becomes one kernel (conv/dense/matmul → GEMM by im2col,
   everything else → vector kernel with its element count).
2. `fold_batchnorm`: a batchnorm right after a conv or dense (its only consumer) is folded
   into the GEMM's weights and bias.
3. `fuse_activations`: a pointwise activation right after a GEMM (its only consumer) runs in
   the array's output path, at line rate; an ``activation`` attribute is already fused.
4. `simaccel.sparsity.measure_kernels`: each GEMM's weights' sparsity, measured from the
   model's .npz (docs/architecture.md, "Sparsity").

Each pass is a pure function from kernels to kernels; `check_macs` holds between passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from simaccel import ops_onnx
from simaccel.graph import Graph
from simaccel.kernels import VECTOR_OPS_PER_ELEMENT, GemmKernel, Kernel, VectorKernel
from simaccel.model import (
    Add,
    Conv2d,
    Dense,
    GlobalAvgPool,
    LayerSpec,
    MatMul,
    OnnxOp,
    Pool2d,
)
from simaccel.shapes import resolve_padding
from simaccel.sparsity import measure_kernels

POINTWISE = ("relu", "relu6", "sigmoid", "tanh", "gelu", "gelu_tanh")


def lower(graph: Graph) -> tuple[Kernel, ...]:
    """Run every lowering pass over ``graph``; the kernels come out in execution order."""
    kernels = lower_layers(graph)
    macs = sum(k.macs for k in kernels)
    for lowering_pass in PASSES:
        kernels = lowering_pass(graph, kernels)
        check_macs(kernels, macs)
    return chain(kernels) if graph.model.sequential else kernels


def chain(kernels: tuple[Kernel, ...]) -> tuple[Kernel, ...]:
    """Each kernel after the one before it (``after``): a model whose layers run one after
    another though none reads another's output — a SCALE-Sim topology, whose rows SCALE-Sim
    runs in file order — so that no two of them overlap on the array and the vector unit
    or on two cores."""
    return tuple(k if i == 0 else replace(k, after=(kernels[i - 1].output,))
                 for i, k in enumerate(kernels))


def lower_layers(graph: Graph) -> tuple[Kernel, ...]:
    """One kernel per layer, in topological order."""
    return tuple(_lower_layer(graph, name) for name in graph.order)


def _lower_layer(graph: Graph, name: str) -> Kernel:
    layer = graph.layer(name)
    ins = graph.input_shapes(name)
    out = graph.shapes[name]
    kernel = _lower_op(layer, ins, out)
    return replace(kernel, inputs=layer.inputs)


def _lower_op(layer: LayerSpec, ins: list[tuple[int, ...]], out: tuple[int, ...]) -> Kernel:
    name = layer.name
    if isinstance(layer, Conv2d):
        n, h, w, _ = out
        g = layer.groups
        kernel = GemmKernel(
            name=name, op=layer.op, m=n * h * w,
            k=layer.kernel[0] * layer.kernel[1] * ins[0][3] // g, n=layer.filters // g,
            groups=g, ifmap_elements=_touched_input(layer, ins[0], out),
            filter_elements=layer.kernel[0] * layer.kernel[1] * ins[0][3] // g * layer.filters,
            ofmap_elements=math.prod(out), bias_elements=layer.filters if layer.bias else 0)
        return _with_activation(kernel, layer.activation)
    if isinstance(layer, Dense):
        rows = math.prod(ins[0][:-1])
        kernel = GemmKernel(
            name=name, op=layer.op, m=rows, k=ins[0][-1], n=layer.units, groups=1,
            ifmap_elements=math.prod(ins[0]), filter_elements=ins[0][-1] * layer.units,
            ofmap_elements=math.prod(out), bias_elements=layer.units if layer.bias else 0)
        return _with_activation(kernel, layer.activation)
    if isinstance(layer, MatMul):
        batch = math.prod(out[:-2])
        kernel = GemmKernel(
            name=name, op=layer.op, m=out[-2], k=ins[0][-1], n=out[-1], groups=batch,
            ifmap_elements=math.prod(ins[0]), filter_elements=math.prod(ins[1]),
            ofmap_elements=math.prod(out),
            fused_vector_ops=math.prod(out) if layer.scale != 1.0 else 0,
            filter_activation=True)
        return _with_activation(kernel, layer.activation)
    return _vector_kernel(layer, ins, out)


def _touched_input(layer: Conv2d, shape: tuple[int, ...], out: tuple[int, ...]) -> int:
    """Input elements some window reads: a strided 1×1 conv skips pixels, and so does its
    DMA (NHWC keeps a pixel's channels contiguous)."""
    stride = layer.stride or (1, 1)
    pads = resolve_padding(layer.padding, (shape[1], shape[2]), layer.kernel, stride,
                           layer.dilation)
    extents = []
    for axis in (0, 1):
        size, window, step, dil = shape[1 + axis], layer.kernel[axis], stride[axis], \
            layer.dilation[axis]
        before = pads[2 * axis]
        rows = {o * step + i * dil - before for o in range(out[1 + axis]) for i in range(window)}
        extents.append(sum(1 for r in rows if 0 <= r < size))
    return shape[0] * extents[0] * extents[1] * shape[3]


def _with_activation(kernel: GemmKernel, activation: str | None) -> GemmKernel:
    if activation is None:
        return kernel
    ops = VECTOR_OPS_PER_ELEMENT[activation] * kernel.ofmap_elements
    return replace(kernel, fused_vector_ops=kernel.fused_vector_ops + ops)


def _vector_kernel(layer: LayerSpec, ins: list[tuple[int, ...]],
                   out: tuple[int, ...]) -> VectorKernel:
    elements = math.prod(out)
    read = sum(math.prod(s) for s in ins)
    if isinstance(layer, OnnxOp):  # constant operands are read from DRAM too
        at = dict(layer.consts)
        free = [p for p in range(len(ins) + len(at)) if p not in at]
        read = ops_onnx.elements_read(layer.onnx_op, [*zip(free, ins, strict=True),
                                                      *layer.consts],
                                      elements)
        return VectorKernel(name=layer.name, op=layer.op, elements=elements,
                            ops_per_element=ops_onnx.ops_per_element(layer.onnx_op, read,
                                                                     elements),
                            input_elements=read)
    if isinstance(layer, Pool2d):
        ops = layer.pool[0] * layer.pool[1] + (1 if layer.op == "avgpool2d" else 0)
    elif isinstance(layer, GlobalAvgPool):
        ops = ins[0][1] * ins[0][2] + 1
    elif isinstance(layer, Add):
        ops = len(ins) - 1
    else:
        ops = VECTOR_OPS_PER_ELEMENT[layer.op]
    return VectorKernel(name=layer.name, op=layer.op, elements=elements, ops_per_element=ops,
                        input_elements=read)


def _sole_producer(graph: Graph, kernel: VectorKernel, by_output: dict[str, int],
                   kernels: list[Kernel], into_vector: bool) -> int | None:
    """Index of the kernel whose output only ``kernel`` reads, if it may absorb ``kernel``:
    a GEMM, or (``into_vector``) an elementwise vector kernel of the same size."""
    layer = graph.layer(kernel.name)
    if len(layer.inputs) != 1 or layer.inputs[0] not in by_output:
        return None
    index = by_output[layer.inputs[0]]
    producer = kernels[index]
    absorbs = isinstance(producer, GemmKernel) or (
        into_vector and isinstance(producer, VectorKernel) and producer.ops_per_element > 0
        and producer.elements == kernel.elements)
    if not absorbs or producer.output in graph.model.outputs:
        return None
    return index if graph.consumers(producer.output) == [kernel.name] else None


def _merge_into_producer(graph: Graph, kernels: tuple[Kernel, ...], ops: tuple[str, ...],
                         merge: Callable[[Kernel, VectorKernel], Kernel],
                         into_vector: bool = False) -> tuple[Kernel, ...]:
    """Merge each vector kernel whose op is in ``ops`` into its sole producer (see
    `_sole_producer`); the merged kernel then writes the vector kernel's output tensor."""
    by_output: dict[str, int] = {}
    out: list[Kernel] = []
    for kernel in kernels:
        index = None
        if isinstance(kernel, VectorKernel) and kernel.op in ops:
            index = _sole_producer(graph, kernel, by_output, out, into_vector)
        if index is None:
            by_output[kernel.output] = len(out)
            out.append(kernel)
            continue
        merged = replace(merge(out[index], kernel), output=kernel.name)  # type: ignore[arg-type]
        out[index] = merged
        by_output[kernel.name] = index
    return tuple(out)


def fold_batchnorm(graph: Graph, kernels: tuple[Kernel, ...]) -> tuple[Kernel, ...]:
    """Fold a batchnorm into the conv or dense before it (scale into weights, shift into
    bias): it costs nothing at run time."""
    def merge(gemm: Kernel, bn: VectorKernel) -> Kernel:
        assert isinstance(gemm, GemmKernel)
        return replace(gemm, fused=gemm.fused + (bn.name,), bias_elements=gemm.n * gemm.groups)
    return _merge_into_producer(graph, kernels, ("batchnorm",), merge)


def fuse_activations(graph: Graph, kernels: tuple[Kernel, ...]) -> tuple[Kernel, ...]:
    """Run a pointwise activation in the GEMM's output path (its vector ops still count), or
    in the same pass as the elementwise vector op before it (a residual add's ReLU)."""
    def merge(producer: Kernel, act: VectorKernel) -> Kernel:
        if isinstance(producer, VectorKernel):
            return replace(producer, fused=producer.fused + (act.name,),
                           ops_per_element=producer.ops_per_element + act.ops_per_element)
        return replace(producer, fused=producer.fused + (act.name,),
                       fused_vector_ops=producer.fused_vector_ops + act.vector_ops)
    return _merge_into_producer(graph, kernels, POINTWISE, merge, into_vector=True)


def check_macs(kernels: tuple[Kernel, ...], expected: int) -> None:
    """Passes never create or lose MACs."""
    got = sum(k.macs for k in kernels)
    if got != expected:
        raise AssertionError(f"lowering changed the MAC count: {expected} -> {got}")


PASSES: tuple[Callable[[Graph, tuple[Kernel, ...]], tuple[Kernel, ...]], ...] = (
    fold_batchnorm,
    fuse_activations,
    measure_kernels,
)

