"""The backward pass, layer by layer, and the assembly of a training step
(`training_step`): the registry `BACKWARD` holds one emitter per layer type; each appends the
kernels of its layer's backward to the `simaccel.training` builder (see that module for the
formulas and the operand roles)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from simaccel.domain import DType
from simaccel.graph import Graph
from simaccel.kernels import GemmKernel, VectorKernel
from simaccel.lowering import lower_layers
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
    Pool2d,
    Reshape,
    Softmax,
    Transpose,
)
from simaccel.training import (
    ACT_GRAD_OPS,
    BATCHNORM_TRAIN_OPS,
    LABELS,
    LOSS_OPS_ON_SOFTMAX,
    MASTER_BYTES,
    NORM_GRAD_OPS,
    SOFTMAX_OPS,
    STATE_TENSORS,
    UPDATE_OPS,
    Optimizer,
    StepBuilder,
    StepOp,
    TrainingError,
    TrainingStep,
    grad_name,
)


def _size(b: StepBuilder, tensor: str) -> int:
    return math.prod(b.graph.shapes[tensor])


def _gemm_layer(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    """Conv2d and Dense: activation backward, dW, db, dX (+ col2im)."""
    assert isinstance(layer, Conv2d | Dense)
    name, x = layer.name, layer.inputs[0]
    fwd = b.forward[name]
    g = b.pre_grad.get(name) or _activation_grad(b, layer, gy)
    dw = b.add(GemmKernel(
        name=f"{name}.dW", op=f"{layer.op}.dW", m=fwd.k, k=fwd.m, n=fwd.n, groups=fwd.groups,
        ifmap_elements=fwd.ifmap_elements, filter_elements=fwd.ofmap_elements,
        ofmap_elements=fwd.filter_elements, filter_activation=True),
        StepOp("weight_grad", name, "backward", (x, g), f"{name}.kernel.grad"))
    grads = [dw]
    channels = fwd.n * fwd.groups
    if layer.bias:
        grads.append(b.vector(f"{name}.db", name, "bias_grad", (g,), f"{name}.bias.grad",
                              channels, fwd.ofmap_elements))
    if b.needs_grad[x]:
        b.contribute(x, _input_gradient(b, layer, fwd, g))
    _update(b, name, tuple(grads))


def _input_gradient(b: StepBuilder, layer: Conv2d | Dense, fwd: GemmKernel, g: str) -> str:
    """dX = G·Wᵀ. Dense: one GEMM. A stride-1 convolution whose output has its input's
    size: the transposed convolution (G padded, the kernel flipped, channels swapped) as an
    implicit-im2col GEMM, M = N·H·W, K = kh·kw·F/g, N = C/g: the forward's MACs. Any other
    convolution: the column gradient (M = N·Ho·Wo, K = F/g, N = kh·kw·C/g), then col2im."""
    name, x = layer.name, layer.inputs[0]
    out = grad_name(f"{name}.x")
    x_shape, y_shape = b.graph.shapes[x], b.graph.shapes[name]
    if isinstance(layer, Dense) or _transposable(layer, x_shape, y_shape):
        k, n = (fwd.n, fwd.k) if isinstance(layer, Dense) else (
            layer.kernel[0] * layer.kernel[1] * fwd.n, x_shape[-1] // fwd.groups)
        kind = "input_grad" if isinstance(layer, Dense) else "input_grad_transposed"
        return b.add(GemmKernel(
            name=f"{name}.dX", op=f"{layer.op}.dX", m=fwd.m, k=k, n=n, groups=fwd.groups,
            ifmap_elements=fwd.ofmap_elements, filter_elements=fwd.filter_elements,
            ofmap_elements=math.prod(x_shape)), StepOp(kind, name, "backward", (g,), out))
    cols = b.add(GemmKernel(
        name=f"{name}.dX", op=f"{layer.op}.dX", m=fwd.m, k=fwd.n, n=fwd.k, groups=fwd.groups,
        ifmap_elements=fwd.ofmap_elements, filter_elements=fwd.filter_elements,
        ofmap_elements=fwd.m * fwd.k * fwd.groups),
        StepOp("input_grad", name, "backward", (g,), f"{name}.cols.grad"))
    return b.vector(f"{name}.col2im", name, "col2im", (cols,), out, math.prod(x_shape),
                    fwd.m * fwd.k * fwd.groups)


def _transposable(layer: Conv2d, x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> bool:
    """Stride 1 and the output the input's height and width ('same' padding): dX is a
    convolution of the same cost."""
    return layer.stride == (1, 1) and y_shape[1:3] == x_shape[1:3]


def _activation_grad(b: StepBuilder, layer: LayerSpec, gy: str) -> str:
    """The gradient at a GEMM's pre-activation: dY itself, or dY ⊙ act'(·) (computed from
    the output; GELU's from its input, which has the output's size: the output's bytes are
    charged for it)."""
    act = getattr(layer, "activation", None)
    if act is None:
        return gy
    n = _size(b, layer.name)
    return b.vector(f"{layer.name}.act", layer.name, "act_grad", (gy, layer.name),
                    f"{layer.name}.pre.grad", n, n * ACT_GRAD_OPS[act])


def _matmul(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    """C = s·A·B (or A·Bᵀ): dA = s·G·Bᵀ, dB = s·Aᵀ·G (or s·Gᵀ·A), both operands activations."""
    assert isinstance(layer, MatMul)
    fwd = b.forward[layer.name]
    g = b.pre_grad.get(layer.name) or _activation_grad(b, layer, gy)
    a, bb = layer.inputs
    out = b.graph.shapes[layer.name]
    for operand in (a, bb):
        if b.graph.shapes[operand][:-2] != out[:-2]:
            raise TrainingError(layer.name, "a matmul that broadcasts an operand over batch "
                                "dimensions has no backward here")
    scaled = fwd.ofmap_elements if layer.scale != 1.0 else 0
    m, k, n, groups = fwd.m, fwd.k, fwd.n, fwd.groups
    if b.needs_grad[a]:
        b.contribute(a, b.add(GemmKernel(
            name=f"{layer.name}.dA", op="matmul.dA", m=m, k=n, n=k, groups=groups,
            ifmap_elements=fwd.ofmap_elements, filter_elements=_size(b, bb),
            ofmap_elements=_size(b, a), fused_vector_ops=scaled, filter_activation=True),
            StepOp("matmul_grad_a", layer.name, "backward", (g, bb), grad_name(f"{layer.name}.a"))))
    if b.needs_grad[bb]:
        reads = (g, a) if layer.transpose_b else (a, g)
        rows, cols = (n, k) if layer.transpose_b else (k, n)
        b.contribute(bb, b.add(GemmKernel(
            name=f"{layer.name}.dB", op="matmul.dB", m=rows, k=m, n=cols, groups=groups,
            ifmap_elements=b.elements(reads[0]), filter_elements=b.elements(reads[1]),
            ofmap_elements=_size(b, bb), fused_vector_ops=scaled, filter_activation=True),
            StepOp("matmul_grad_b", layer.name, "backward", reads, grad_name(f"{layer.name}.b"))))


def _pool(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    """Max pooling routes each output's gradient to its window's argmax (recomputed from the
    input: one compare per window element); average pooling spreads it over the window."""
    assert isinstance(layer, Pool2d)
    x = layer.inputs[0]
    reads = (gy, x) if layer.op == "maxpool2d" else (gy,)
    n = _size(b, x)
    work = _size(b, layer.name) * layer.pool[0] * layer.pool[1] + n
    b.contribute(x, b.vector(f"{layer.name}.grad", layer.name, "pool_grad", reads,
                             grad_name(f"{layer.name}.x"), n, work))


def _one_op_per_input(op: str):
    """The backward of a layer whose input gradient costs one vector op per input element,
    read from dY alone: a global average pool (dY / area, spread) or a transpose."""
    def emit(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
        x = layer.inputs[0]
        n = _size(b, x)
        b.contribute(x, b.vector(f"{layer.name}.grad", layer.name, op, (gy,),
                                 grad_name(f"{layer.name}.x"), n, n))
    return emit


def _add(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    """Sum: each input receives dY (summed over the axes it was broadcast along); product:
    dY times the other factors."""
    assert isinstance(layer, Add)
    out = _size(b, layer.name)
    for j, x in enumerate(layer.inputs):
        if not b.needs_grad[x]:
            continue
        same = b.graph.shapes[x] == b.graph.shapes[layer.name]
        if layer.op == "add" and same:
            b.contribute(x, gy)
            continue
        reads = (gy,) if layer.op == "add" else (gy, *layer.inputs)
        work = out * (len(layer.inputs) - 1 if layer.op == "mul" else 0) + (0 if same else out)
        b.contribute(x, b.vector(f"{layer.name}.grad{j}", layer.name, f"{layer.op}_grad",
                                 reads, grad_name(f"{layer.name}.x{j}"), _size(b, x),
                                 max(work, 1), index=j))


def _concat(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    """Each input's gradient is its slice of dY: a view, no data moved."""
    for j, x in enumerate(layer.inputs):
        if b.needs_grad[x]:
            b.contribute(x, b.vector(f"{layer.name}.grad{j}", layer.name, "concat_grad", (gy,),
                                     grad_name(f"{layer.name}.x{j}"), _size(b, x), 0, index=j))


def _view(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    """Flatten and reshape: the gradient is dY in the input's shape (a relabelling)."""
    b.contribute(layer.inputs[0], gy)


def _norm(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    """Batchnorm (training mode: batch statistics) and layernorm: dX, then dγ and dβ."""
    x = layer.inputs[0]
    n = _size(b, x)
    kind = "batchnorm" if isinstance(layer, BatchNorm) else "layernorm"
    if b.needs_grad[x]:
        b.contribute(x, b.vector(f"{layer.name}.grad", layer.name, f"{kind}_grad", (gy, x),
                                 grad_name(f"{layer.name}.x"), n, n * NORM_GRAD_OPS))
    channels = b.graph.shapes[x][layer.axis if isinstance(layer, LayerNorm) else -1]
    params = b.vector(f"{layer.name}.dparams", layer.name, f"{kind}_param_grad", (gy, x),
                      f"{layer.name}.params.grad", 2 * channels, 3 * n)
    _update(b, layer.name, (params,))


def _pointwise_act(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    x = layer.inputs[0]
    n = _size(b, x)
    source = x if layer.op in ("gelu", "gelu_tanh") else layer.name
    b.contribute(x, b.vector(f"{layer.name}.grad", layer.name, "act_grad", (gy, source),
                             grad_name(f"{layer.name}.x"), n, n * ACT_GRAD_OPS[layer.op]))


def _softmax(b: StepBuilder, layer: LayerSpec, gy: str) -> None:
    x = layer.inputs[0]
    n = _size(b, x)
    b.contribute(x, b.vector(f"{layer.name}.grad", layer.name, "softmax_grad",
                             (gy, layer.name), grad_name(f"{layer.name}.x"), n,
                             n * ACT_GRAD_OPS["softmax"]))


Emitter = Callable[[StepBuilder, LayerSpec, str], None]

#: The backward of each layer type: one entry per type, nothing else decides.
BACKWARD: dict[type, Emitter] = {
    Conv2d: _gemm_layer, Dense: _gemm_layer, MatMul: _matmul, Pool2d: _pool,
    GlobalAvgPool: _one_op_per_input("gap_grad"), Add: _add, Concat: _concat, Flatten: _view,
    Reshape: _view, Transpose: _one_op_per_input("transpose_grad"), BatchNorm: _norm,
    LayerNorm: _norm,
    Elementwise: _pointwise_act, Softmax: _softmax,
}


def _forward(b: StepBuilder) -> None:
    """The forward kernels, one per layer (nothing folded: batchnorm uses the batch's
    statistics in training, and every activation the backward reads is materialised)."""
    for kernel in lower_layers(b.graph):
        layer = b.graph.layer(kernel.name)
        if isinstance(layer, BatchNorm):
            kernel = VectorKernel(name=kernel.name, op=kernel.op, elements=kernel.elements,
                                  ops_per_element=BATCHNORM_TRAIN_OPS,
                                  input_elements=kernel.input_elements)
        if isinstance(kernel, GemmKernel):
            b.forward[kernel.name] = kernel
        b.add(kernel, StepOp("forward", kernel.name, "forward", layer.inputs, kernel.name))


def _loss(b: StepBuilder, labels: str) -> set[str]:
    """Softmax cross-entropy on the model's output; returns the layers whose backward the
    loss kernel already did (a softmax layer at the output)."""
    model = b.graph.model
    if len(model.outputs) != 1:
        raise TrainingError(model.outputs[-1], "training needs a model with one output")
    out = model.outputs[0]
    layer = b.graph.layer(out)
    n = _size(b, out)
    if isinstance(layer, Softmax):
        g = b.vector("loss.grad", out, "loss_grad", (out, labels), grad_name(layer.inputs[0]),
                     n, n * LOSS_OPS_ON_SOFTMAX, phase="loss")
        b.contribute(layer.inputs[0], g)
        return {out}
    if getattr(layer, "activation", None) == "softmax":
        b.pre_grad[out] = b.vector("loss.grad", out, "loss_grad", (out, labels),
                                   f"{out}.pre.grad", n, n * LOSS_OPS_ON_SOFTMAX, phase="loss")
        return set()
    b.contribute(out, b.vector("loss.grad", out, "loss_softmax_grad", (out, labels),
                               grad_name(out), n, n * (LOSS_OPS_ON_SOFTMAX + SOFTMAX_OPS),
                               phase="loss"))
    return set()


def training_step(graph: Graph, optimizer: Optimizer = Optimizer.SGD,
                  dtypes: tuple[DType, DType] = (DType.FP32, DType.FP32),
                  recompute: bool = False) -> TrainingStep:
    """The kernels of one training step of ``graph`` (its batch is the model inputs' first
    dimension): forward, loss gradient, backward, and the ``optimizer``'s update after each
    layer's gradients. ``dtypes`` are the (activation, weight) types, which size the fp32
    master weights and optimizer state in activation elements. ``recompute``: keep only
    segment boundaries and recompute the rest during the backward pass
    (`simaccel.recompute`). Raises `TrainingError` for a layer without a backward."""
    b = StepBuilder(graph, dtypes, optimizer)
    _forward(b)
    done = _loss(b, LABELS)
    for name in reversed(graph.order):
        layer = graph.layer(name)
        if name in done:
            continue
        gy = b.gradient(name) if name not in b.pre_grad else b.pre_grad[name]
        if gy is None:
            continue
        emit = BACKWARD.get(type(layer))
        if emit is None:
            raise TrainingError(name, f"op {layer.op!r} has no backward; training supports "
                                + ", ".join(sorted({t.__name__ for t in BACKWARD})))
        emit(b, layer, gy)
    kernels, ops = tuple(b.kernels), tuple(b.ops)
    if recompute:
        from simaccel.recompute import checkpoint

        kernels, ops = checkpoint(kernels, ops)
    forward = {t.name for t in graph.model.inputs} | set(graph.order)
    stashed = tuple(dict.fromkeys(t for op in ops if op.phase == "backward"
                                  for t in op.reads if t in forward))
    return TrainingStep(graph=graph, kernels=kernels, ops=ops, optimizer=optimizer,
                        parameters=dict(b.parameters), stashed=stashed,
                        label_elements=b.label_elements, states=dict(b.states),
                        recompute=recompute)


def _update(b: StepBuilder, layer: str, grads: tuple[str, ...]) -> None:
    """Emit ``layer``'s optimizer update right after its gradients are complete; it reads
    the master weights and state from ``<layer>.state`` (an input of the step, in DRAM
    unless the residency planner keeps it on chip)."""
    sizes = {t: b.elements(t) for t in grads}
    for tensor, n in sizes.items():
        b.parameters[tensor.removesuffix(".grad")] = n
    params = sum(sizes.values())
    kernel, op = update_kernel(f"{layer}.update", layer, grads, params, b.optimizer,
                               b.dtypes[0])
    b.states[f"{layer}.state"] = kernel.input_elements - params
    b.add(kernel, replace(op, reads=(*grads, f"{layer}.state")))


def update_kernel(name: str, layer: str, grads: tuple[str, ...], params: int,
                  optimizer: Optimizer, act: DType) -> tuple[VectorKernel, StepOp]:
    """The optimizer update of one layer's ``params`` elements: reads the gradients and the
    fp32 master weights and state, writes them back and (mixed precision) the weights in the
    working type; fp32 tensors count ``MASTER_BYTES / act.bytes`` activation elements each."""
    ratio = MASTER_BYTES / act.bytes
    master = math.ceil(params * (1 + STATE_TENSORS[optimizer]) * ratio)
    written = master + (params if act.bytes < MASTER_BYTES else 0)
    kernel = VectorKernel(name=name, op=f"update.{optimizer.value}", elements=written,
                          ops_per_element=math.ceil(params * UPDATE_OPS[optimizer] / written),
                          input_elements=params + master)
    return kernel, StepOp("update", layer, "update", grads, f"{layer}.updated")
