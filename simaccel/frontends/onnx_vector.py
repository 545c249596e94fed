"""ONNX ops for the vector unit: activations, every elementwise op (broadcasting, constant
operands), reductions and normalisations, and data movement (Transpose, Reshape, Concat,
Split, Slice, Gather, Pad, ...). Ops of `simaccel.ops_onnx` become `OnnxOp` layers; the
common activations, Add/Mul of two activations, Softmax, LayerNorm and BatchNorm stay
simaccel's own (fusable) layers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simaccel import ops_onnx
from simaccel.frontends.onnx_graph import (
    attrs,
)
from simaccel.frontends.onnx_patterns import (
    channel_affine,
    pad_into_conv,
)
from simaccel.frontends.onnx_tensors import (
    TO_NCHW,
    Importer,
    Tensor,
    broadcast_shapes,
    channel_axis,
    compose,
    emit,
    to_layout,
)
from simaccel.model import (
    Add,
    BatchNorm,
    Concat,
    Elementwise,
    GlobalAvgPool,
    LayerNorm,
    Reshape,
    Softmax,
)


def unary(op: str) -> Callable:
    def handle(im: Importer, node) -> None:
        x = im.get(node.input[0], node)
        name = im.add(Elementwise, node.name or node.output[0], [x.name], op=op)
        im.tensors[node.output[0]] = Tensor(name, x.shape, x.perm)
    return handle


def gelu(im: Importer, node) -> None:
    tanh = attrs(node).get("approximate", b"none") in ("tanh", b"tanh")
    unary("gelu_tanh" if tanh else "gelu")(im, node)


def clip(im: Importer, node) -> None:
    lo = im.const(node.input[1]) if len(node.input) > 1 else None
    hi = im.const(node.input[2]) if len(node.input) > 2 else None
    a = attrs(node)
    lo = float(lo) if lo is not None else a.get("min", None)
    hi = float(hi) if hi is not None else a.get("max", None)
    if lo == 0.0 and hi == 6.0:
        return unary("relu6")(im, node)
    if lo == 0.0 and hi is None:
        return unary("relu")(im, node)
    return onnx_op(im, node)


def binary(op: str) -> Callable:
    """Add or Mul: of activations of one layout, a simaccel ``add``/``mul`` layer (fusable);
    anything else (a constant operand, broadcasting across layouts) the plain ONNX op."""
    def handle(im: Importer, node) -> None:
        if op == "mul" and channel_affine(im, node):
            return None
        if any(n in im.consts for n in node.input):
            return onnx_op(im, node)
        ins = [im.get(n, node) for n in node.input]
        if len({t.perm for t in ins}) > 1 or len({t.shape for t in ins}) > 1:
            return onnx_op(im, node)
        name = im.add(Add, node.name or node.output[0], [t.name for t in ins], op=op)
        im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), ins[0].perm)
    return handle


def pointwise(im: Importer, node, onnx_op: str, operands: list, hint: str,
               out: str | None = None, **attributes) -> None:
    """An elementwise ``onnx_op`` of activations (names) and constants (arrays) that the
    frontend builds itself (a decomposed BatchNorm, an unrolled RNN)."""
    acts = [im.get(o, node) for o in operands if isinstance(o, str)]
    perm = acts[0].perm if len({t.perm for t in acts}) == 1 else None
    if perm is None:
        acts = [im.nchw(t, hint) for t in acts]
    shape = broadcast_shapes([t.shape for t in acts] + [np.shape(o) for o in operands
                                                         if not isinstance(o, str)])
    consts = {i: to_layout(np.asarray(o, dtype=np.float64), len(shape), perm)
              for i, o in enumerate(operands) if not isinstance(o, str)}
    held = im.shape_held(Tensor("", shape, perm))
    name = emit(im, hint, "eltwise", onnx_op, [t.name for t in acts], consts, held, attributes)
    im.tensors[out or node.output[0]] = Tensor(name, shape, perm)


def onnx_op(im: Importer, node, consts: dict[int, np.ndarray] | None = None,
             **extra) -> None:
    """Any op of `simaccel.ops_onnx` by its ONNX meaning: elementwise ops keep the layout
    their operands are held in (constants are transposed to it), and so do the `PER_AXIS`
    data movements (their per-axis vectors permuted); the others run in ONNX element order.
    ``consts`` replaces constant operands (by position); ``extra`` adds attributes."""
    kind = ops_onnx.OPS[node.op_type].kind
    acts = [(i, im.get(n, node)) for i, n in enumerate(node.input) if n and n not in im.consts]
    given = consts or {}
    consts = {i: given.get(i, im.consts[n]) for i, n in enumerate(node.input)
              if n in im.consts}
    consts.update({i: np.zeros(0) for i, n in enumerate(node.input) if not n})
    shape = im.shape(node.output[0], node)
    perms = {t.perm for _, t in acts}
    same_rank = all(len(t.shape) == len(shape) for _, t in acts)
    perm = perms.pop() if len(perms) == 1 and same_rank else None
    if kind == "eltwise" and perm is not None:
        consts = {i: to_layout(v, len(shape), perm) if v.size else v
                  for i, v in consts.items()}
    elif perm is not None and _reduces_in_place(node, consts):  # axes mapped to the layout
        a = attrs(node)
        if "axes" in a:
            extra["axes"] = tuple(perm[int(x) % len(perm)] for x in a["axes"])
        elif "axis" in a or node.op_type == "LogSoftmax":
            extra["axis"] = perm[int(a.get("axis", -1)) % len(perm)]
        elif 1 in consts and consts[1].size:
            consts[1] = np.array([perm[int(x) % len(perm)] for x in consts[1].reshape(-1)])
    elif perm is not None:
        remapped = _per_axis(node.op_type, consts, perm, attrs(node))
        perm, consts = (None, consts) if remapped is None else (perm, remapped)
    if perm is None:
        acts = [(i, im.nchw(t, node.name)) for i, t in acts]
    held = im.shape_held(Tensor("", shape, perm))
    name = emit(im, node.name or node.output[0], kind, node.op_type,
                 [t.name for _, t in acts], consts, held, {**attrs(node), **extra})
    im.tensors[node.output[0]] = Tensor(name, shape, perm)


#: Data movement whose constant operands list one value per axis (by operand position:
#: ``axes`` a vector over the axes, ``ends`` begins then ends): run in the held layout with
#: those vectors permuted, instead of transposing the tensor to ONNX order and back.
PER_AXIS = {"Resize": {1: "ends", 2: "axes", 3: "axes"}, "Pad": {1: "ends"},
            "Tile": {1: "axes"}}


def _reduces_in_place(node, consts: dict[int, np.ndarray]) -> bool:
    """A reduction keeping its rank (ReduceX with keepdims, LogSoftmax): it runs on the held
    layout with its axes mapped."""
    keep = bool(attrs(node).get("keepdims", 1))
    return node.op_type == "LogSoftmax" or node.op_type.startswith("Reduce") and keep


def _per_axis(op: str, consts: dict[int, np.ndarray], perm: tuple[int, ...],
              attributes: dict) -> dict[int, np.ndarray] | None:
    """``consts`` of a `PER_AXIS` op laid out for a tensor held with ``perm`` (held axis
    ``perm[q]`` is ONNX axis ``q``); None when the op is not one, or uses ``axes``."""
    roles = PER_AXIS.get(op)
    if roles is None or "axes" in attributes or (op == "Pad" and 3 in consts and
                                                 consts[3].size):
        return None
    rank = len(perm)
    out = dict(consts)
    for pos, role in roles.items():
        value = consts.get(pos)
        if value is None or not value.size:
            continue
        parts = value.reshape(-1).reshape(2, rank) if role == "ends" else \
            value.reshape(1, rank)
        held = np.empty_like(parts)
        held[:, list(perm)] = parts
        out[pos] = held.reshape(-1)
    return out


def reduce(im: Importer, node) -> None:
    """ReduceMean over H and W of a feature map is a global average pool; any other
    reduction is the plain op."""
    x = im.tensors.get(node.input[0])
    a = attrs(node)
    axes = a.get("axes")
    if axes is None and len(node.input) > 1 and im.const(node.input[1]) is not None:
        axes = im.consts[node.input[1]].reshape(-1).tolist()
    if node.op_type == "ReduceMean" and x is not None and len(x.shape) == 4 and axes is not \
            None and sorted(int(i) % 4 for i in axes) == [2, 3]:
        return global_pool(im, node, keepdims=bool(a.get("keepdims", 1)))
    onnx_op(im, node)


def global_pool(im: Importer, node, keepdims: bool = True) -> None:
    x = im.nhwc(im.get(node.input[0], node), node.name)
    pooled = im.add(GlobalAvgPool, node.name or node.output[0], [x.name], op="global_avgpool")
    shape = im.shape(node.output[0], node)  # [N, C, 1, 1] (or [N, C]); simaccel's is [N, C]
    if not keepdims:
        im.tensors[node.output[0]] = Tensor(pooled, shape)
        return
    name = im.add(Reshape, f"{pooled}/nhwc", [pooled], op="reshape",
                  shape=(shape[0], 1, 1, shape[1]))
    im.tensors[node.output[0]] = Tensor(name, shape, TO_NCHW)


def batchnorm(im: Importer, node) -> None:
    x = im.get(node.input[0], node)
    eps = float(attrs(node).get("epsilon", 1e-5))
    if len(x.shape) not in (2, 4):  # BatchNorm1d over [N, C, L]: scale and shift
        gamma, beta, mean, var = (im.consts[n] for n in node.input[1:5])
        scale = gamma / np.sqrt(var + eps)
        shape = (-1,) + (1,) * (len(x.shape) - 2)
        pointwise(im, node, "Mul", [node.input[0], scale.reshape(shape)], f"{node.name}/scale",
                   out=node.output[0] + "/scaled")
        pointwise(im, node, "Add", [node.output[0] + "/scaled",
                                     (beta - mean * scale).reshape(shape)],
                   f"{node.name}/shift")
        return
    x = im.nhwc(x, node.name) if len(x.shape) == 4 else im.nchw(x, node.name)
    name = im.add(BatchNorm, node.name or node.output[0], [x.name], op="batchnorm", epsilon=eps)
    for key, idx in (("gamma", 1), ("beta", 2), ("mean", 3), ("var", 4)):
        im.weights[f"{name}.{key}"] = im.consts[node.input[idx]]
    im.tensors[node.output[0]] = Tensor(name, x.shape, x.perm)


def softmax(im: Importer, node) -> None:
    x = im.get(node.input[0], node)
    name = im.add(Softmax, node.name or node.output[0], [x.name], op="softmax",
                  axis=channel_axis(x, int(attrs(node).get("axis", -1))))
    im.tensors[node.output[0]] = Tensor(name, x.shape, x.perm)


def layernorm(im: Importer, node) -> None:
    x = im.get(node.input[0], node)
    a = attrs(node)
    gamma, beta = im.const(node.input[1]), im.const(node.input[2]) if len(node.input) > 2 \
        else np.zeros(x.shape[-1])
    last = int(a.get("axis", -1)) % len(x.shape) == len(x.shape) - 1
    if not last or gamma is None or beta is None or len(node.output) > 1 and any(
            node.output[1:]):
        return onnx_op(im, node)
    x = im.nchw(x, node.name)
    name = im.add(LayerNorm, node.name or node.output[0], [x.name], op="layernorm",
                  epsilon=float(a.get("epsilon", 1e-5)))
    c = x.shape[-1]
    im.weights[f"{name}.gamma"] = np.broadcast_to(gamma, (c,)).copy()
    im.weights[f"{name}.beta"] = np.broadcast_to(beta, (c,)).copy()
    im.tensors[node.output[0]] = Tensor(name, x.shape)


def reshape_like(im: Importer, node) -> None:
    """Flatten, Reshape, Squeeze, Unsqueeze: a reshape in ONNX element order."""
    x = im.nchw(im.get(node.input[0], node), node.name)
    shape = im.shape(node.output[0], node)
    if shape == x.shape:
        im.tensors[node.output[0]] = x
        return
    name = im.add(Reshape, node.name or node.output[0], [x.name], op="reshape", shape=shape)
    im.tensors[node.output[0]] = Tensor(name, shape)


def transpose(im: Importer, node) -> None:
    """A permutation composed onto the tensor's pending one; no layer until an op needs
    the element order."""
    x = im.get(node.input[0], node)
    perm = tuple(attrs(node).get("perm", list(range(len(x.shape)))[::-1]))
    im.tensors[node.output[0]] = Tensor(x.name, tuple(x.shape[p] for p in perm),
                                        compose(x.perm, perm), node.name or node.output[0])


def alias(im: Importer, node) -> None:
    im.tensors[node.output[0]] = im.get(node.input[0], node)


def concat(im: Importer, node) -> None:
    """Concat; empty operands (a zero-length part, folded to an empty constant) are left
    out, and what remains of one operand is an alias of it."""
    given = [n for n in node.input if n and not (n in im.consts and im.consts[n].size == 0)]
    if len(given) == 1:
        im.tensors[node.output[0]] = im.get(given[0], node)
        return None
    if len(given) < len([n for n in node.input if n]):
        trimmed = type(node)()
        trimmed.CopyFrom(node)
        del trimmed.input[:]
        trimmed.input.extend(given)
        node = trimmed
    if any(n in im.consts for n in node.input):
        return onnx_op(im, node)
    ins = [im.get(n, node) for n in node.input]
    if len({t.perm for t in ins}) > 1:
        ins = [im.nchw(t, node.name) for t in ins]
    axis = channel_axis(ins[0], int(attrs(node)["axis"]))
    name = im.add(Concat, node.name or node.output[0], [t.name for t in ins], op="concat",
                  axis=axis)
    im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), ins[0].perm)


def split(im: Importer, node) -> None:
    """Split: one Slice per output, each moving its part's bytes, in the layout the input is
    held in (a channel split of a feature map stays NHWC)."""
    x = im.get(node.input[0], node)
    a = attrs(node)
    axis = int(a.get("axis", 0)) % len(x.shape)
    held_axis = channel_axis(x, axis)
    start = 0
    for i, out in enumerate(node.output):
        shape = im.shape(out, node)
        if out:
            consts = {1: np.array([start]), 2: np.array([start + shape[axis]]),
                      3: np.array([held_axis])}
            name = emit(im, f"{node.name or out}/{i}", "move", "Slice", [x.name], consts,
                        im.shape_held(Tensor("", shape, x.perm)), {})
            im.tensors[out] = Tensor(name, shape, x.perm)
        start += shape[axis]


def slice_(im: Importer, node) -> None:
    """Slice with constant bounds, in the layout its input is held in (axes mapped)."""
    x = im.tensors.get(node.input[0])
    bounds = [im.const(n) if n else None for n in node.input[1:]]
    if x is None or x.perm is None or any(b is None for b in bounds[:2]) or any(
            n and b is None for n, b in zip(node.input[3:], bounds[2:], strict=False)):
        return onnx_op(im, node)
    starts = bounds[0].reshape(-1)
    axes = bounds[2].reshape(-1) if len(bounds) > 2 and bounds[2] is not None else \
        np.arange(len(starts))
    consts = {1: starts, 2: bounds[1].reshape(-1),
              3: np.array([channel_axis(x, int(ax)) for ax in axes])}
    if len(bounds) > 3 and bounds[3] is not None:
        consts[4] = bounds[3].reshape(-1)
    shape = im.shape(node.output[0], node)
    name = emit(im, node.name or node.output[0], "move", "Slice", [x.name], consts,
                im.shape_held(Tensor("", shape, x.perm)), {})
    im.tensors[node.output[0]] = Tensor(name, shape, x.perm)


def pad(im: Importer, node) -> None:
    """Zero padding of H and W that a Conv reads (perhaps through a Transpose, as tf2onnx
    writes Keras' ZeroPadding2D) is folded into the conv's padding; any other Pad moves
    data."""
    if not pad_into_conv(im, node):
        onnx_op(im, node)
