"""Frontend for ONNX models (what `torch.onnx.export` and tf2onnx write), opsets 13 to 21.

`simaccel.frontends.onnx_graph` reads and checks the file, folds its constant subgraphs and
infers every shape; this module walks the resulting graph in order and translates each node
into simaccel layers.

Layout: ONNX convolutions are NCHW; simaccel's are NHWC. Every ONNX tensor is held as a
simaccel tensor plus a pending permutation (`Tensor.perm`): the ONNX tensor is the simaccel
tensor transposed by ``perm``. Convs and pools produce NHWC tensors whose ONNX view is
NCHW (perm 0, 3, 1, 2); elementwise ops keep the permutation; an ONNX Transpose only
composes it and costs nothing by itself. Where an op needs a particular element order
(Flatten, Reshape, MatMul, LayerNorm need the ONNX order; Conv and pools need NHWC) a
simaccel transpose is inserted, once per tensor and order. A 4-D model input is NCHW
(torch) and becomes an NHWC input, unless every consumer transposes it to NCHW first (tf2onnx
from Keras), in which case it already is NHWC.

Patterns exporters emit are recognised: x·0.5·(1 + erf(x/√2)) is GELU; ReduceMean, Sub,
Pow, ReduceMean, Add, Sqrt, Div, Mul, Add is LayerNormalization; Clip(0, 6) is ReLU6; a
MatMul by a constant followed by Add of a constant is a dense layer with bias.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from simaccel.errors import InputError
from simaccel.frontends.onnx_graph import attrs, constants, guarded, read_graph, static_shapes
from simaccel.model import (
    Add,
    BatchNorm,
    Concat,
    Conv2d,
    Dense,
    Elementwise,
    GlobalAvgPool,
    LayerNorm,
    MatMul,
    Model,
    Pool2d,
    Reshape,
    Softmax,
    TensorSpec,
    Transpose,
)

TO_NCHW = (0, 3, 1, 2)


@dataclass(frozen=True)
class Tensor:
    """An ONNX tensor as simaccel holds it: the ONNX tensor is simaccel tensor ``name``
    transposed by ``perm`` (None: the same element order); ``shape`` is the ONNX shape.
    ``via`` names the ONNX Transpose whose permutation is pending, for the layer that
    eventually applies it."""

    name: str
    shape: tuple[int, ...]
    perm: tuple[int, ...] | None = None
    via: str = ""

    @property
    def nhwc(self) -> bool:
        """A 4-D NCHW ONNX tensor held as NHWC."""
        return self.perm == TO_NCHW


def _compose(p: tuple[int, ...] | None, q: tuple[int, ...]) -> tuple[int, ...] | None:
    """The permutation of ``x.transpose(p).transpose(q)`` from ``x`` (None: identity)."""
    r = tuple(p[i] for i in q) if p is not None else tuple(q)
    return None if r == tuple(range(len(r))) else r


class _Import:
    """State of one import: constants, tensors, the layers and weights produced so far."""

    def __init__(self, graph, source: str, allow_unknown: bool) -> None:
        self.source = source
        self.allow_unknown = allow_unknown
        self.consts = constants(graph, source)
        self.shapes = static_shapes(graph)
        self.tensors: dict[str, Tensor] = {}
        self.layers: list = []
        self.weights: dict[str, np.ndarray] = {}
        self.inputs: list[TensorSpec] = []
        self.names: set[str] = set()
        self.unknown: list[str] = []
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.skip: set[int] = set()
        self.materialized: dict[tuple[str, tuple[int, ...]], str] = {}

    # -- names and layers ---------------------------------------------------------------
    def unique(self, wanted: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.\-/:]", "_", wanted).strip("/") or "layer"
        name, i = base, 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def add(self, layer_cls, name: str, inputs: list[str], **attrs) -> str:
        layer = layer_cls(name=self.unique(name), inputs=tuple(inputs), **attrs)
        self.layers.append(layer)
        return layer.name

    def shape(self, onnx_name: str, node) -> tuple[int, ...]:
        """The static shape of ``onnx_name``, which ``node`` produces or reads."""
        if onnx_name not in self.shapes:
            raise InputError(self.source, f"node {node.name or node.op_type}",
                             f"the shape of {onnx_name!r} is not static (it depends on the "
                             "input data); simaccel needs every shape known at import")
        return self.shapes[onnx_name]

    def get(self, onnx_name: str, node) -> Tensor:
        if onnx_name not in self.tensors:
            raise InputError(self.source, f"node {node.name or node.op_type}",
                             f"input {onnx_name!r} is not an activation simaccel can compute")
        return self.tensors[onnx_name]

    def permuted(self, t: Tensor, perm: tuple[int, ...], hint: str) -> str:
        """Simaccel tensor ``t.name`` transposed by ``perm``: a transpose layer, or a reshape
        where only axes of extent 1 move; made once per tensor and permutation."""
        key = (t.name, perm)
        if key not in self.materialized:
            shape = tuple(self.shape_held(t)[i] for i in perm)
            moved = [i for i in perm if self.shape_held(t)[i] != 1]
            if moved == sorted(moved):  # element order unchanged
                name = self.add(Reshape, f"{t.via or hint}/reshape", [t.name], op="reshape",
                                shape=shape)
            else:
                name = self.add(Transpose, t.via or f"{hint}/transpose", [t.name],
                                op="transpose", perm=perm)
            self.materialized[key] = name
        return self.materialized[key]

    def shape_held(self, t: Tensor) -> tuple[int, ...]:
        """The shape of the simaccel tensor that holds ``t``."""
        if t.perm is None:
            return t.shape
        held = [0] * len(t.shape)
        for onnx_axis, held_axis in enumerate(t.perm):
            held[held_axis] = t.shape[onnx_axis]
        return tuple(held)

    def nchw(self, t: Tensor, hint: str) -> Tensor:
        """``t`` in ONNX element order (applying its pending permutation)."""
        if t.perm is None:
            return t
        return Tensor(self.permuted(t, t.perm, hint), t.shape)

    def nhwc(self, t: Tensor, hint: str) -> Tensor:
        """A 4-D ``t`` held as NHWC, for convs and pools."""
        if t.nhwc:
            return t
        perm = _compose(t.perm, (0, 2, 3, 1))
        name = t.name if perm is None else self.permuted(t, perm, hint)
        return Tensor(name, t.shape, TO_NCHW)


def _channel_axis(t: Tensor, axis: int) -> int:
    """An ONNX axis of ``t`` as the axis of the simaccel tensor holding it."""
    axis %= len(t.shape)
    return t.perm[axis] if t.perm is not None else axis


def _conv(im: _Import, node) -> None:
    a = attrs(node)
    x = im.get(node.input[0], node)
    w = im.consts.get(node.input[1])
    if w is None or len(w.shape) != 4 or len(x.shape) != 4:
        raise InputError(im.source, f"node {node.name}", "only 2-D convolutions with constant "
                         "weights are supported")
    k = (int(w.shape[2]), int(w.shape[3]))
    pads = a.get("pads", [0, 0, 0, 0])
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    padding = "same" if auto in ("SAME_UPPER", "SAME_LOWER") else (
        "valid" if auto == "VALID" else (pads[0], pads[2], pads[1], pads[3]))
    groups = int(a.get("group", 1))
    x = im.nhwc(x, node.name)
    name = im.add(Conv2d, node.name or node.output[0], [x.name], op="conv2d",
                  filters=int(w.shape[0]), kernel=k, stride=tuple(a.get("strides", [1, 1])),
                  dilation=tuple(a.get("dilations", [1, 1])), padding=padding, groups=groups,
                  bias=len(node.input) > 2)
    im.weights[f"{name}.kernel"] = w.transpose(2, 3, 1, 0)
    if len(node.input) > 2:
        im.weights[f"{name}.bias"] = im.consts[node.input[2]]
    im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), TO_NCHW)


def _gemm(im: _Import, node) -> None:
    a = attrs(node)
    x = im.nchw(im.get(node.input[0], node), node.name)
    b = im.consts.get(node.input[1])
    if a.get("transA", 0) or b is None:
        raise InputError(im.source, f"node {node.name}", "Gemm needs a constant B and no transA")
    w = (b.T if a.get("transB", 0) else b) * a.get("alpha", 1.0)
    bias = im.consts.get(node.input[2]) if len(node.input) > 2 else None
    name = im.add(Dense, node.name or node.output[0], [x.name], op="dense", units=int(w.shape[1]),
                  bias=bias is not None)
    im.weights[f"{name}.kernel"] = w
    if bias is not None:
        im.weights[f"{name}.bias"] = np.broadcast_to(bias * a.get("beta", 1.0), (w.shape[1],))
    im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node))


def _matmul(im: _Import, node) -> None:
    x = im.nchw(im.get(node.input[0], node), node.name)
    w = im.consts.get(node.input[1])
    out = node.output[0]
    if w is not None and w.ndim == 2:
        bias, out = _trailing_bias(im, node, w.shape[1])
        name = im.add(Dense, node.name or out, [x.name], op="dense", units=int(w.shape[1]),
                      bias=bias is not None)
        im.weights[f"{name}.kernel"] = w
        if bias is not None:
            im.weights[f"{name}.bias"] = bias
    else:
        y = im.get(node.input[1], node)
        swapped = None if y.perm is None else _compose(y.perm, _swap_last(len(y.shape)))
        transpose_b = y.perm is not None and swapped is None  # Bᵀ: read B transposed
        y = Tensor(y.name, y.shape) if transpose_b else im.nchw(y, node.name)
        scale, out = _trailing_scale(im, node)
        name = im.add(MatMul, node.name or out, [x.name, y.name], op="matmul", scale=scale,
                      transpose_b=transpose_b)
    im.tensors[out] = Tensor(name, im.shape(out, node))


def _swap_last(rank: int) -> tuple[int, ...]:
    return (*range(rank - 2), rank - 1, rank - 2)


def _single_consumer(im: _Import, tensor: str, op_type: str):
    users = im.consumers.get(tensor, [])
    return users[0] if len(users) == 1 and users[0].op_type == op_type else None


def _trailing_bias(im: _Import, node, units: int):
    """A constant Add right after (a bias): fold it in, and skip that node."""
    add = _single_consumer(im, node.output[0], "Add")
    if add is not None:
        other = [n for n in add.input if n != node.output[0]]
        if len(other) == 1 and other[0] in im.consts and im.consts[other[0]].size == units:
            im.skip.add(id(add))
            return im.consts[other[0]].reshape(units), add.output[0]
    return None, node.output[0]


def _trailing_scale(im: _Import, node):
    """A Mul or Div by a constant scalar right after a MatMul: its ``scale``."""
    for op_type in ("Mul", "Div"):
        user = _single_consumer(im, node.output[0], op_type)
        if user is None:
            continue
        other = [n for n in user.input if n != node.output[0]]
        if len(other) == 1 and other[0] in im.consts and im.consts[other[0]].size == 1:
            value = float(im.consts[other[0]].reshape(()))
            im.skip.add(id(user))
            return (value if op_type == "Mul" else 1.0 / value), user.output[0]
    return 1.0, node.output[0]


def _batchnorm(im: _Import, node) -> None:
    x = im.get(node.input[0], node)
    if len(x.shape) == 4:
        x = im.nhwc(x, node.name)
    elif len(x.shape) == 2:
        x = im.nchw(x, node.name)
    else:
        raise InputError(im.source, f"node {node.name}", "BatchNormalization only of 2-D or "
                         "4-D tensors")
    name = im.add(BatchNorm, node.name or node.output[0], [x.name], op="batchnorm",
                  epsilon=float(attrs(node).get("epsilon", 1e-5)))
    for key, idx in (("gamma", 1), ("beta", 2), ("mean", 3), ("var", 4)):
        im.weights[f"{name}.{key}"] = im.consts[node.input[idx]]
    im.tensors[node.output[0]] = Tensor(name, x.shape, x.perm)


def _unary(op: str) -> Callable:
    def handle(im: _Import, node) -> None:
        x = im.get(node.input[0], node)
        name = im.add(Elementwise, node.name or node.output[0], [x.name], op=op)
        im.tensors[node.output[0]] = Tensor(name, x.shape, x.perm)
    return handle


def _gelu(im: _Import, node) -> None:
    tanh = attrs(node).get("approximate", b"none") in ("tanh", b"tanh")
    _unary("gelu_tanh" if tanh else "gelu")(im, node)


def _clip(im: _Import, node) -> None:
    lo = im.consts.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    hi = im.consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    a = attrs(node)
    lo = float(lo) if lo is not None else a.get("min", None)
    hi = float(hi) if hi is not None else a.get("max", None)
    if lo == 0.0 and hi == 6.0:
        return _unary("relu6")(im, node)
    if lo == 0.0 and hi is None:
        return _unary("relu")(im, node)
    raise InputError(im.source, f"node {node.name}", f"Clip({lo}, {hi}) is supported only as "
                     "ReLU6 (0, 6) or ReLU (0, none)")


def _pool(op: str) -> Callable:
    def handle(im: _Import, node) -> None:
        a = attrs(node)
        x = im.get(node.input[0], node)
        if a.get("ceil_mode", 0) or (op == "avgpool2d" and a.get("count_include_pad", 0) and
                                     any(a.get("pads", [0]))):
            raise InputError(im.source, f"node {node.name}", "ceil_mode and count_include_pad "
                             "with padding are not supported")
        pads = a.get("pads", [0, 0, 0, 0])
        k = tuple(a["kernel_shape"])
        x = im.nhwc(x, node.name)
        name = im.add(Pool2d, node.name or node.output[0], [x.name], op=op, pool=k,
                      stride=tuple(a.get("strides", k)),
                      padding=(pads[0], pads[2], pads[1], pads[3]))
        im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), TO_NCHW)
    return handle


def _global_pool(im: _Import, node) -> None:
    x = im.nhwc(im.get(node.input[0], node), node.name)
    pooled = im.add(GlobalAvgPool, node.name or node.output[0], [x.name], op="global_avgpool")
    shape = im.shape(node.output[0], node)  # [N, C, 1, 1]; simaccel's is [N, C]
    name = im.add(Reshape, f"{pooled}/nhwc", [pooled], op="reshape",
                  shape=(shape[0], 1, 1, shape[1]))
    im.tensors[node.output[0]] = Tensor(name, shape, TO_NCHW)


def _binary(op: str) -> Callable:
    def handle(im: _Import, node) -> None:
        if any(n in im.consts for n in node.input):
            raise InputError(im.source, f"node {node.name}", f"{node.op_type} with a constant "
                             "operand is supported only as a bias or scale right after a "
                             "MatMul")
        ins = [im.get(n, node) for n in node.input]
        if len({t.perm for t in ins}) > 1 or len({t.shape for t in ins}) > 1:
            ins = [im.nchw(t, node.name) for t in ins]
        name = im.add(Add, node.name or node.output[0], [t.name for t in ins], op=op)
        im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), ins[0].perm)
    return handle


def _concat(im: _Import, node) -> None:
    ins = [im.get(n, node) for n in node.input]
    if len({t.perm for t in ins}) > 1:
        ins = [im.nchw(t, node.name) for t in ins]
    axis = _channel_axis(ins[0], int(attrs(node)["axis"]))
    name = im.add(Concat, node.name or node.output[0], [t.name for t in ins], op="concat",
                  axis=axis)
    im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), ins[0].perm)


def _softmax(im: _Import, node) -> None:
    x = im.get(node.input[0], node)
    name = im.add(Softmax, node.name or node.output[0], [x.name], op="softmax",
                  axis=_channel_axis(x, int(attrs(node).get("axis", -1))))
    im.tensors[node.output[0]] = Tensor(name, x.shape, x.perm)


def _layernorm(im: _Import, node) -> None:
    x = im.nchw(im.get(node.input[0], node), node.name)
    a = attrs(node)
    if int(a.get("axis", -1)) % len(x.shape) != len(x.shape) - 1:
        raise InputError(im.source, f"node {node.name}", "LayerNormalization only over the "
                         "last axis")
    name = im.add(LayerNorm, node.name or node.output[0], [x.name], op="layernorm",
                  epsilon=float(a.get("epsilon", 1e-5)))
    c = x.shape[-1]
    im.weights[f"{name}.gamma"] = im.consts[node.input[1]].reshape(c)
    im.weights[f"{name}.beta"] = (im.consts[node.input[2]].reshape(c) if len(node.input) > 2
                                  else np.zeros(c))
    im.tensors[node.output[0]] = Tensor(name, x.shape)


def _reshape_like(im: _Import, node) -> None:
    """Flatten, Reshape, Squeeze, Unsqueeze: a reshape in ONNX element order."""
    x = im.nchw(im.get(node.input[0], node), node.name)
    shape = im.shape(node.output[0], node)
    name = im.add(Reshape, node.name or node.output[0], [x.name], op="reshape", shape=shape)
    im.tensors[node.output[0]] = Tensor(name, shape)


def _transpose(im: _Import, node) -> None:
    """A permutation composed onto the tensor's pending one; no layer until an op needs
    the element order."""
    x = im.get(node.input[0], node)
    perm = tuple(attrs(node).get("perm", list(range(len(x.shape)))[::-1]))
    im.tensors[node.output[0]] = Tensor(x.name, im.shape(node.output[0], node),
                                        _compose(x.perm, perm), node.name or node.output[0])


def _alias(im: _Import, node) -> None:
    im.tensors[node.output[0]] = im.get(node.input[0], node)


HANDLERS: dict[str, Callable] = {
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "BatchNormalization": _batchnorm,
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"),
    "Gelu": _gelu, "Clip": _clip, "Softmax": _softmax,
    "LayerNormalization": _layernorm, "MaxPool": _pool("maxpool2d"),
    "AveragePool": _pool("avgpool2d"), "GlobalAveragePool": _global_pool,
    "Add": _binary("add"), "Mul": _binary("mul"), "Concat": _concat,
    "Flatten": _reshape_like, "Reshape": _reshape_like, "Squeeze": _reshape_like,
    "Unsqueeze": _reshape_like, "Transpose": _transpose, "Identity": _alias, "Dropout": _alias,
}

#: Ops that are supported only as part of an exporter's pattern (GELU, LayerNorm).
PATTERN_OPS = {"Div", "Erf", "ReduceMean", "Sub", "Pow", "Sqrt"}

# -- patterns -----------------------------------------------------------------------------

def _const_near(im: _Import, name: str, value: float) -> bool:
    return name in im.consts and im.consts[name].size == 1 and abs(
        float(im.consts[name].reshape(())) - value) < 1e-3 * max(1.0, abs(value))


def _other(node, name: str) -> str:
    rest = [n for n in node.input if n != name]
    return rest[0] if rest else ""


def _gelu_pattern(im: _Import, node) -> bool:
    """Div(x, √2) → Erf → Add(1) → Mul(x) → Mul(0.5) is GELU."""
    if node.op_type != "Div" or not _const_near(im, node.input[1], 2**0.5):
        return False
    x = node.input[0]
    erf = _single_consumer(im, node.output[0], "Erf")
    add = erf and _single_consumer(im, erf.output[0], "Add")
    mul = add and _const_near(im, _other(add, erf.output[0]), 1.0) and _single_consumer(
        im, add.output[0], "Mul")
    half = mul and _other(mul, add.output[0]) == x and _single_consumer(im, mul.output[0], "Mul")
    if not (half and _const_near(im, _other(half, mul.output[0]), 0.5)):
        return False
    t = im.get(x, node)
    name = im.add(Elementwise, node.name or half.output[0], [t.name], op="gelu")
    im.tensors[half.output[0]] = Tensor(name, t.shape, t.perm)
    im.skip.update({id(erf), id(add), id(mul), id(half)})
    return True


def _layernorm_pattern(im: _Import, node) -> bool:
    """ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div (, Mul γ, Add β) is
    LayerNormalization over the last axis."""
    if node.op_type != "ReduceMean":
        return False
    x = node.input[0]
    users = im.consumers.get(node.output[0], [])
    sub = users[0] if len(users) == 1 and users[0].op_type == "Sub" else None
    if sub is None or sub.input[0] != x:
        return False
    pow_ = next((u for u in im.consumers.get(sub.output[0], []) if u.op_type == "Pow"), None)
    div = next((u for u in im.consumers.get(sub.output[0], []) if u.op_type == "Div"), None)
    mean2 = pow_ and _const_near(im, pow_.input[1], 2.0) and _single_consumer(
        im, pow_.output[0], "ReduceMean")
    add = mean2 and _single_consumer(im, mean2.output[0], "Add")
    sqrt = add and _single_consumer(im, add.output[0], "Sqrt")
    if not (sqrt and div and div.input[1] == sqrt.output[0]):
        return False
    eps_name = _other(add, mean2.output[0])
    if eps_name not in im.consts:
        return False
    t = im.nchw(im.get(x, node), node.name or "layernorm")
    c = t.shape[-1]
    out, gamma, beta = div.output[0], np.ones(c), np.zeros(c)
    skip = [sub, pow_, div, mean2, add, sqrt]
    mul = _single_consumer(im, out, "Mul")
    if mul is not None and _other(mul, out) in im.consts:
        gamma, out = im.consts[_other(mul, out)].reshape(c), mul.output[0]
        skip.append(mul)
        bias = _single_consumer(im, out, "Add")
        if bias is not None and _other(bias, out) in im.consts:
            beta, out = im.consts[_other(bias, out)].reshape(c), bias.output[0]
            skip.append(bias)
    name = im.add(LayerNorm, node.name or out, [t.name], op="layernorm",
                  epsilon=float(im.consts[eps_name].reshape(())))
    im.weights[f"{name}.gamma"], im.weights[f"{name}.beta"] = gamma, beta
    im.tensors[out] = Tensor(name, t.shape)
    im.skip.update(id(n) for n in skip)
    return True


# -- the import ---------------------------------------------------------------------------

def _output(im: _Import, t: Tensor, onnx_name: str) -> str:
    """A model output: in ONNX element order, except that NCHW maps stay NHWC."""
    if t.perm is None or t.nhwc:
        return t.name
    return im.nchw(t, onnx_name).name


def _opaque(im: _Import, node) -> None:
    from simaccel.model import Opaque

    ins = [im.get(n, node) for n in node.input if n and n not in im.consts]
    shape = im.shapes.get(node.output[0])
    if not ins or shape is None:
        raise InputError(im.source, f"node {node.name or node.op_type}", f"unsupported op "
                         f"{node.op_type} has no activation input or no known output shape")
    name = im.add(Opaque, node.name or node.output[0], [ins[0].name], op="opaque",
                  onnx_op=node.op_type, shape=shape)
    im.tensors[node.output[0]] = Tensor(name, shape)


def _walk(im: _Import, graph) -> None:
    """Translate every node. Without ``allow_unknown`` the walk goes on past an unsupported
    op, skipping what depends on it, so that the error lists every unsupported op."""
    downstream: set[str] = set()  # tensors computed from an unsupported op's output
    for node in graph.node:
        guarded(im.source, node, partial(_translate, im, node, downstream))


def _translate(im: _Import, node, downstream: set[str]) -> None:
    """One node of `_walk`: skipped (part of a pattern, or downstream of an unsupported
    op), matched as a pattern, handled, or listed as unsupported. Constant subgraphs were
    folded away before (`onnx_graph.read_graph`)."""
    if id(node) in im.skip:
        return
    if downstream & set(node.input):  # cannot be translated, but may be unsupported
        if node.op_type not in HANDLERS and node.op_type not in PATTERN_OPS:
            im.unknown.append(f"{node.op_type} ({node.name or node.output[0]})")
        downstream.update(node.output)
        return
    if _gelu_pattern(im, node) or _layernorm_pattern(im, node):
        return
    handler = HANDLERS.get(node.op_type)
    if handler is not None:
        handler(im, node)
        return
    im.unknown.append(f"{node.op_type} ({node.name or node.output[0]})")
    if im.allow_unknown:
        _opaque(im, node)
    else:
        downstream.update(node.output)


def load_onnx(path: Path, allow_unknown: bool = False) -> Model:
    """Load an ONNX model as a `Model` whose weights are the model's initializers.

    ``allow_unknown`` costs unsupported ops as vector ops (numerics are then skipped)
    instead of refusing the model; the model's ``description`` lists them.
    """
    source = str(path)
    proto = read_graph(path)
    im = _Import(proto.graph, source, allow_unknown)
    for inp in proto.graph.input:
        if inp.name in im.consts:
            continue
        shape = im.shape(inp.name, inp)
        users = im.consumers.get(inp.name, [])
        nchw = len(shape) == 4 and not (users and all(
            u.op_type == "Transpose" and tuple(attrs(u).get("perm", ())) == TO_NCHW
            for u in users))
        ours = (shape[0], shape[2], shape[3], shape[1]) if nchw else shape
        name = im.unique(inp.name)
        im.inputs.append(TensorSpec(name=name, shape=ours))
        im.tensors[inp.name] = Tensor(name, shape, TO_NCHW if nchw else None)
    _walk(im, proto.graph)
    if im.unknown and not allow_unknown:
        raise InputError(source, "graph", f"unsupported ONNX ops ({len(im.unknown)}): "
                         + ", ".join(im.unknown) + "; --allow-unknown costs them as vector ops")
    outputs = tuple(_output(im, im.get(o.name, proto.graph.node[-1]), o.name)
                    for o in proto.graph.output)
    note = f"; costed as vector ops: {', '.join(im.unknown)}" if im.unknown else ""
    return Model(name=proto.graph.name or path.stem, inputs=tuple(im.inputs),
                 layers=tuple(im.layers), outputs=outputs, source=source,
                 description=f"imported from ONNX {path.name}{note}", weights=im.weights)
