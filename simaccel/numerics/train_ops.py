"""What each kernel of a training step computes, by `StepOp.kind` (the registry `KINDS`).

Every GEMM (forward, dW, dX, matmul gradients) goes through ``ctx.gemm``: the Program's
instructions for that kernel (`simaccel.numerics.execute.run_gemm`: loads, matmuls with fp32
accumulators, stores) or, for the float64 reference, one plain matmul. Operand matrices use
the forward's im2col layout (`simaccel.numerics.tiled`): dW = Xᵀ·G reads the im2col rows
transposed, dX's column gradient is scattered back by `col2im` (the transpose of im2col,
computed with the same index arithmetic). Vector kernels are numpy in float64, their outputs
rounded to the activation type (``ctx.round``)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from simaccel.model import Conv2d, Dense, MatMul, Pool2d
from simaccel.numerics import reference
from simaccel.numerics.tiled import conv_weights, im2col
from simaccel.shapes import resolve_padding
from simaccel.training import StepOp


def conv_kernel(w: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``[groups, kh·kw·C/g, F/g]`` → HWIO ``shape`` (the inverse of `conv_weights`)."""
    kh, kw, cg, f = shape
    g = w.shape[0]
    return w.reshape(g, kh * kw, cg, f // g).transpose(1, 2, 0, 3).reshape(shape)


def _by_group(t: np.ndarray, groups: int) -> np.ndarray:
    """NHWC (or [rows, N]) → ``[groups, rows, N/groups]``."""
    return t.reshape(-1, groups, t.shape[-1] // groups).transpose(1, 0, 2)


def _from_groups(t: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``[groups, rows, N/groups]`` → ``shape`` (channels grouped by group)."""
    return t.transpose(1, 0, 2).reshape(shape)


def col2im(cols: np.ndarray, layer: Conv2d, shape: tuple[int, ...]) -> np.ndarray:
    """Column gradient ``[groups, N·Ho·Wo, kh·kw·C/g]`` → input gradient NHWC ``shape``: each
    column element added where im2col took it from (padding dropped)."""
    index = np.arange(1, math.prod(shape) + 1, dtype=np.float64).reshape(shape)
    where = im2col(index, layer, layer.groups).astype(np.int64)  # 0: padding
    total = np.bincount(where.ravel(), weights=cols.ravel(), minlength=math.prod(shape) + 1)
    return total[1:].reshape(shape)


def _forward(ctx, i: int, op: StepOp) -> np.ndarray:
    layer = ctx.graph.layer(op.layer)
    ins = [ctx.read(t, ctx.graph.shapes[s]) for t, s in zip(op.reads, layer.inputs,
                                                              strict=True)]
    if isinstance(layer, Conv2d | Dense | MatMul):
        pre = _gemm_forward(ctx, i, layer, ins)
        ctx.pre[op.writes] = pre
        if layer.activation is None:
            return pre
        return reference.ACTIVATIONS[layer.activation](pre)
    if layer.op == "batchnorm":
        return _batchnorm_train(ctx, layer, ins[0])
    return reference.layer_forward(layer, ins, ctx.params.get(layer.name, {}))


def _gemm_forward(ctx, i: int, layer, ins: list[np.ndarray]) -> np.ndarray:
    out = ctx.graph.shapes[layer.name]
    if isinstance(layer, MatMul):
        b = np.swapaxes(ins[1], -1, -2) if layer.transpose_b else ins[1]
        a3, b3 = ins[0].reshape(-1, *ins[0].shape[-2:]), b.reshape(-1, *b.shape[-2:])
        acc = ctx.gemm(i, a3, b3, np.zeros((a3.shape[0], b3.shape[2])))
        return acc.reshape(out) * layer.scale
    w, bias = ctx.weights(layer.name)
    if isinstance(layer, Conv2d):
        g = layer.groups
        acc = ctx.gemm(i, im2col(ins[0], layer, g), conv_weights(w, g), bias.reshape(g, -1))
        return _from_groups(acc, out)
    acc = ctx.gemm(i, ins[0].reshape(1, -1, w.shape[0]), w[None], bias[None])
    return acc.reshape(out)


def _batchnorm_train(ctx, layer, x: np.ndarray) -> np.ndarray:
    """Batchnorm in training mode: the batch's mean and (biased) variance per channel."""
    p = ctx.params[layer.name]
    axes = tuple(range(x.ndim - 1))
    xhat = (x - x.mean(axis=axes)) / np.sqrt(x.var(axis=axes) + layer.epsilon)
    return xhat * p["gamma"] + p["beta"]


def _loss_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    """(softmax − onehot) / B, times the loss scale; also records the loss."""
    probs = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    if op.kind == "loss_softmax_grad":
        probs = reference.softmax(probs, -1)
    rows = probs.reshape(-1, probs.shape[-1])
    labels = ctx.labels
    ctx.loss = float(-np.mean(np.log(np.maximum(rows[np.arange(len(labels)), labels],
                                                1e-30))))
    grad = rows.copy()
    grad[np.arange(len(labels)), labels] -= 1.0
    return (grad / len(labels) * ctx.loss_scale).reshape(probs.shape)


def _act_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    layer = ctx.graph.layer(op.layer)
    act = getattr(layer, "activation", None) or layer.op
    shape = ctx.graph.shapes[op.layer]
    gy = ctx.read(op.reads[0], shape)
    y = ctx.read(op.reads[1], ctx.graph.shapes[op.reads[1].removesuffix(".re")])
    if act in ("gelu", "gelu_tanh"):
        x = ctx.pre.get(op.reads[1], y)
        return gy * _gelu_slope(x, act)
    if act == "softmax":
        return y * (gy - (gy * y).sum(-1, keepdims=True))
    return gy * ACT_SLOPES[act](y, gy)


def _gelu_slope(x: np.ndarray, act: str) -> np.ndarray:
    """d/dx of GELU: Φ(x) + x·φ(x) (exact), or the tanh form's derivative."""
    if act == "gelu":
        return 0.5 * (1 + reference.erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / \
            math.sqrt(2 * math.pi)
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)


#: Each pointwise activation's derivative from its output y.
ACT_SLOPES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "relu": lambda y, gy: (y > 0).astype(np.float64),
    "relu6": lambda y, gy: ((y > 0) & (y < 6)).astype(np.float64),
    "sigmoid": lambda y, gy: y * (1 - y),
    "tanh": lambda y, gy: 1 - y * y,
}


def _softmax_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    shape = ctx.graph.shapes[op.layer]
    gy, y = ctx.read(op.reads[0], shape), ctx.read(op.reads[1], shape)
    return y * (gy - (gy * y).sum(-1, keepdims=True))


def _weight_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    layer = ctx.graph.layer(op.layer)
    x = ctx.read(op.reads[0], ctx.graph.shapes[layer.inputs[0]])
    g = ctx.read(op.reads[1], ctx.graph.shapes[op.layer])
    shape = ctx.params[op.layer]["kernel"].shape
    if isinstance(layer, Conv2d):
        a = np.ascontiguousarray(np.swapaxes(im2col(x, layer, layer.groups), 1, 2))
        acc = ctx.gemm(i, a, _by_group(g, layer.groups), np.zeros((layer.groups, g.shape[-1]
                                                                   // layer.groups)))
        return conv_kernel(acc, shape)
    a = np.ascontiguousarray(x.reshape(-1, shape[0]).T)[None]
    return ctx.gemm(i, a, g.reshape(1, -1, shape[1]), np.zeros((1, shape[1])))[0]


def _bias_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    g = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    return g.reshape(-1, g.shape[-1]).sum(axis=0)


def _input_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    """dX = G·Wᵀ: for a convolution the column gradient [g, M, kh·kw·C/g] (`col2im` makes
    it dX), for a dense layer dX in the input's shape."""
    layer = ctx.graph.layer(op.layer)
    g = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    w, _ = ctx.weights(op.layer)
    x_shape = ctx.graph.shapes[layer.inputs[0]]
    if isinstance(layer, Conv2d):
        groups = layer.groups
        bt = np.ascontiguousarray(np.swapaxes(conv_weights(w, groups), 1, 2))
        cols = ctx.gemm(i, _by_group(g, groups), bt, np.zeros((groups, bt.shape[2])))
        return cols
    acc = ctx.gemm(i, g.reshape(1, -1, w.shape[1]), w.T[None], np.zeros((1, w.shape[0])))
    return acc.reshape(x_shape)


def transposed_conv(layer: Conv2d, x_shape: tuple[int, ...]) -> Conv2d:
    """The convolution that computes a stride-1, same-size ``layer``'s input gradient from
    its output gradient: padding (bottom, top, right, left), channels swapped."""
    top, bottom, left, right = resolve_padding(layer.padding, x_shape[1:3], layer.kernel,
                                               layer.stride, layer.dilation)
    return Conv2d(name=f"{layer.name}.transposed", op="conv2d", inputs=(layer.name,),
                  filters=x_shape[-1], kernel=layer.kernel, dilation=layer.dilation,
                  groups=layer.groups, padding=(bottom, top, right, left), bias=False)


def flipped_kernel(w: np.ndarray, groups: int) -> np.ndarray:
    """HWIO ``[kh, kw, C/g, F]`` → the transposed convolution's ``[kh, kw, F/g, C]``: the
    window reversed, each group's input and output channels swapped."""
    kh, kw, cg, f = w.shape
    per_group = w.reshape(kh, kw, cg, groups, f // groups)[::-1, ::-1]
    return per_group.transpose(0, 1, 4, 3, 2).reshape(kh, kw, f // groups, groups * cg)


def _input_grad_transposed(ctx, i: int, op: StepOp) -> np.ndarray:
    layer = ctx.graph.layer(op.layer)
    x_shape = ctx.graph.shapes[layer.inputs[0]]
    g = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    w, _ = ctx.weights(op.layer)
    t = transposed_conv(layer, x_shape)
    groups = layer.groups
    acc = ctx.gemm(i, im2col(g, t, groups), conv_weights(flipped_kernel(w, groups), groups),
                   np.zeros((groups, x_shape[-1] // groups)))
    return _from_groups(acc, x_shape)


def _col2im(ctx, i: int, op: StepOp) -> np.ndarray:
    layer = ctx.graph.layer(op.layer)
    return col2im(ctx.tensors[op.reads[0]], layer, ctx.graph.shapes[layer.inputs[0]])


def _pool_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    """Max: each output's gradient to its window's first largest input; average: spread
    evenly over the window's counted (unpadded) inputs."""
    layer = ctx.graph.layer(op.layer)
    assert isinstance(layer, Pool2d)
    x_shape = ctx.graph.shapes[layer.inputs[0]]
    gy = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    stride = layer.stride or layer.pool
    pads = resolve_padding(layer.padding, x_shape[1:3], layer.pool, stride, layer.dilation)
    index = np.arange(1, math.prod(x_shape) + 1, dtype=np.float64).reshape(x_shape)
    where = reference.windows(index, layer.pool, stride, layer.dilation, pads)
    where = where.reshape(*where.shape[:4], -1).astype(np.int64)
    if layer.op == "maxpool2d":
        x = ctx.read(op.reads[1], x_shape)
        win = reference.windows(x, layer.pool, stride, layer.dilation, pads, fill=-np.inf)
        pick = win.reshape(*win.shape[:4], -1).argmax(axis=-1)[..., None]
        targets, weights = np.take_along_axis(where, pick, -1)[..., 0], gy
    else:
        counted = (where > 0).sum(-1, keepdims=True)
        targets = where
        weights = np.broadcast_to((gy[..., None] / counted), where.shape)
    total = np.bincount(targets.ravel(), weights=np.ravel(weights),
                        minlength=math.prod(x_shape) + 1)
    return total[1:].reshape(x_shape)


def _gap_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    x_shape = ctx.graph.shapes[ctx.graph.layer(op.layer).inputs[0]]
    gy = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    return np.broadcast_to(gy[:, None, None, :] / (x_shape[1] * x_shape[2]), x_shape).copy()


def _grad_sum(ctx, i: int, op: StepOp) -> np.ndarray:
    shape = ctx.graph.shapes[op.layer]
    return sum(ctx.read(t, shape) for t in op.reads)


def _reduce_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes along which a tensor of ``shape`` was broadcast."""
    extra = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(extra))) if extra else g
    axes = tuple(a for a, n in enumerate(shape) if n == 1 and g.shape[a] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _eltwise_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    layer = ctx.graph.layer(op.layer)
    gy = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    target = ctx.graph.shapes[layer.inputs[op.index]]
    if op.kind == "mul_grad":
        for j, t in enumerate(layer.inputs):
            if j != op.index:
                gy = gy * ctx.read(op.reads[1 + j], ctx.graph.shapes[t])
    return _reduce_to(gy, target)


def _concat_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    layer = ctx.graph.layer(op.layer)
    gy = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    sizes = [ctx.graph.shapes[t][layer.axis] for t in layer.inputs]
    start = sum(sizes[:op.index])
    return np.take(gy, range(start, start + sizes[op.index]), axis=layer.axis)


def _transpose_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    layer = ctx.graph.layer(op.layer)
    gy = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    return np.transpose(gy, np.argsort(layer.perm))


def _matmul_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    """dA = s·G·B′ᵀ (B′ = B, or Bᵀ with ``transpose_b``); dB = s·Aᵀ·G, or s·Gᵀ·A."""
    layer = ctx.graph.layer(op.layer)
    assert isinstance(layer, MatMul)
    shapes = ctx.graph.shapes
    a_shape, b_shape, c_shape = (shapes[t] for t in (*layer.inputs, op.layer))
    g = ctx.read(op.reads[0 if op.kind == "matmul_grad_a" or layer.transpose_b else 1],
                 c_shape).reshape(-1, *c_shape[-2:])
    if op.kind == "matmul_grad_a":
        b = ctx.read(op.reads[1], b_shape).reshape(-1, *b_shape[-2:])
        rhs = b if layer.transpose_b else np.ascontiguousarray(np.swapaxes(b, 1, 2))
        out = ctx.gemm(i, g, rhs, np.zeros((g.shape[0], rhs.shape[2])))
        return (out * layer.scale).reshape(a_shape)
    a = ctx.read(op.reads[1 if layer.transpose_b else 0], a_shape).reshape(-1, *a_shape[-2:])
    lhs, rhs = (np.swapaxes(g, 1, 2), a) if layer.transpose_b else (np.swapaxes(a, 1, 2), g)
    out = ctx.gemm(i, np.ascontiguousarray(lhs), rhs, np.zeros((g.shape[0], rhs.shape[2])))
    return (out * layer.scale).reshape(b_shape)


def _norm_parts(ctx, op: StepOp):
    """(dY, x̂, 1/σ, γ broadcastable, reduction axes) of a batchnorm (over every axis but
    the channels, the batch's statistics) or layernorm (over its axis)."""
    layer = ctx.graph.layer(op.layer)
    x_shape = ctx.graph.shapes[layer.inputs[0]]
    gy = ctx.read(op.reads[0], ctx.graph.shapes[op.layer])
    x = ctx.read(op.reads[1], x_shape)
    batch = op.kind.startswith("batchnorm")
    axes = tuple(range(x.ndim - 1)) if batch else (layer.axis % x.ndim,)
    mean = x.mean(axis=axes, keepdims=True)
    inv = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + layer.epsilon)
    shape = [1] * x.ndim
    shape[-1 if batch else layer.axis] = -1
    gamma = ctx.params[op.layer]["gamma"].reshape(shape)
    return gy, (x - mean) * inv, inv, gamma, axes


def _norm_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    """dX = γ/σ · (dY − mean(dY) − x̂·mean(dY·x̂)), means over the normalised axes."""
    gy, xhat, inv, gamma, axes = _norm_parts(ctx, op)
    d = gy * gamma
    return inv * (d - d.mean(axis=axes, keepdims=True)
                  - xhat * (d * xhat).mean(axis=axes, keepdims=True))


def _norm_param_grad(ctx, i: int, op: StepOp) -> np.ndarray:
    """[dγ, dβ] side by side: Σ dY·x̂ and Σ dY over every axis but γ's."""
    gy, xhat, _, gamma, _ = _norm_parts(ctx, op)
    keep = [a for a, n in enumerate(gamma.shape) if n != 1][0]
    over = tuple(a for a in range(gy.ndim) if a != keep)
    return np.concatenate([(gy * xhat).sum(axis=over), gy.sum(axis=over)])


KINDS: dict[str, Callable] = {
    "forward": _forward, "loss_grad": _loss_grad, "loss_softmax_grad": _loss_grad,
    "act_grad": _act_grad, "softmax_grad": _softmax_grad, "weight_grad": _weight_grad,
    "bias_grad": _bias_grad, "input_grad": _input_grad, "col2im": _col2im,
    "input_grad_transposed": _input_grad_transposed,
    "pool_grad": _pool_grad, "gap_grad": _gap_grad, "grad_sum": _grad_sum,
    "add_grad": _eltwise_grad, "mul_grad": _eltwise_grad, "concat_grad": _concat_grad,
    "transpose_grad": _transpose_grad, "matmul_grad_a": _matmul_grad,
    "matmul_grad_b": _matmul_grad, "batchnorm_grad": _norm_grad,
    "layernorm_grad": _norm_grad, "batchnorm_param_grad": _norm_param_grad,
    "layernorm_param_grad": _norm_param_grad,
}
