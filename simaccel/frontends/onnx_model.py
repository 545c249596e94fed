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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from simaccel import ops_onnx
from simaccel.domain import DType
from simaccel.errors import InputError
from simaccel.frontends.onnx_graph import (
    _MALFORMED,
    attrs,
    constants,
    guarded,
    read_graph,
    static_shapes,
)
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
    OnnxOp,
    Opaque,
    Pool2d,
    Reshape,
    Softmax,
    TensorSpec,
    Transpose,
)

TO_NCHW = (0, 3, 1, 2)


class Unsupported(InputError):
    """A supported op type used in a way simaccel does not model (listed with the
    unsupported ops; costed by its bytes with ``--allow-unknown``)."""


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
        #: unsupported nodes: (op type, node name, why)
        self.unknown: list[tuple[str, str, str]] = []
        self.consumers: dict[str, list] = {}
        self.producers: dict[str, object] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
            for name in node.output:
                self.producers[name] = node
        self.skip: set[int] = set()
        self.materialized: dict[tuple[str, tuple[int, ...]], str] = {}
        #: extra (top, bottom, left, right) padding of a Conv node, from a Pad folded into it
        self.extra_pads: dict[int, tuple[int, int, int, int]] = {}
        #: the final node of a recognised pattern → the handler that emits the whole pattern
        self.patterns: dict[int, Callable[[], None]] = {}
        self.outputs = {o.name for o in graph.output}

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
            raise Unsupported(self.source, f"node {node.name or node.op_type}",
                             f"input {onnx_name!r} is not an activation simaccel can compute")
        return self.tensors[onnx_name]

    def const(self, onnx_name: str) -> np.ndarray | None:
        """The constant value of ``onnx_name`` (None: an activation or absent)."""
        return self.consts.get(onnx_name) if onnx_name else None

    def single_use(self, onnx_name: str) -> bool:
        """Read by exactly one node and not a model output."""
        return len(self.consumers.get(onnx_name, [])) == 1 and onnx_name not in self.outputs

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


def _refuse(im: _Import, node, message: str) -> Unsupported:
    return Unsupported(im.source, f"node {node.name or node.op_type}", message)


# -- GEMM-class ops -------------------------------------------------------------------------

def _same_pads(in_hw, k, strides, dilations, lower: bool) -> list[int]:
    """ONNX auto_pad SAME_UPPER / SAME_LOWER as explicit [top, left, bottom, right]: output
    ceil(in / stride); the odd extra pad at the end (UPPER) or the beginning (LOWER)."""
    heads, tails = [], []
    for size, kk, s, d in zip(in_hw, k, strides, dilations, strict=True):
        total = max((-(-size // s) - 1) * s + d * (kk - 1) + 1 - size, 0)
        small, big = total // 2, total - total // 2
        heads.append(big if lower else small)
        tails.append(small if lower else big)
    return heads + tails


def _window_pads(im: _Import, node, x: Tensor, k, strides, dilations) -> list[int]:
    """A conv's or pool's [top, left, bottom, right] pads from ``pads`` or ``auto_pad``."""
    a = attrs(node)
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return _same_pads(x.shape[2:], k, strides, dilations, auto == "SAME_LOWER")
    if auto == "VALID":
        return [0, 0, 0, 0]
    return list(a.get("pads", [0, 0, 0, 0]))


def _conv(im: _Import, node) -> None:
    a = attrs(node)
    x = im.get(node.input[0], node)
    w = im.const(node.input[1])
    if w is None or len(w.shape) != 4 or len(x.shape) != 4:
        raise _refuse(im, node, "only 2-D convolutions with constant weights are supported")
    k = (int(w.shape[2]), int(w.shape[3]))
    strides = tuple(a.get("strides", [1, 1]))
    dilations = tuple(a.get("dilations", [1, 1]))
    pads = _window_pads(im, node, x, k, strides, dilations)
    extra = im.extra_pads.get(id(node), (0, 0, 0, 0))
    padding = (pads[0] + extra[0], pads[2] + extra[1], pads[1] + extra[2], pads[3] + extra[3])
    groups = int(a.get("group", 1))
    x = im.nhwc(x, node.name)
    bias = im.const(node.input[2]) if len(node.input) > 2 else None
    name = im.add(Conv2d, node.name or node.output[0], [x.name], op="conv2d",
                  filters=int(w.shape[0]), kernel=k, stride=strides, dilation=dilations,
                  padding=padding, groups=groups, bias=bias is not None)
    im.weights[f"{name}.kernel"] = w.transpose(2, 3, 1, 0)
    if bias is not None:
        im.weights[f"{name}.bias"] = bias
    im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), TO_NCHW)


def _gemm(im: _Import, node) -> None:
    a = attrs(node)
    b = im.const(node.input[1])
    if a.get("transA", 0) or b is None:
        raise _refuse(im, node, "Gemm needs a constant B and no transA")
    x = im.nchw(im.get(node.input[0], node), node.name)
    w = (b.T if a.get("transB", 0) else b) * a.get("alpha", 1.0)
    bias = im.const(node.input[2]) if len(node.input) > 2 else None
    name = im.add(Dense, node.name or node.output[0], [x.name], op="dense", units=int(w.shape[1]),
                  bias=bias is not None)
    im.weights[f"{name}.kernel"] = w
    if bias is not None:
        im.weights[f"{name}.bias"] = np.broadcast_to(bias * a.get("beta", 1.0), (w.shape[1],))
    im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node))


def _matmul(im: _Import, node) -> None:
    if im.const(node.input[0]) is not None:
        raise _refuse(im, node, "MatMul of a constant by an activation is not supported")
    x = im.nchw(im.get(node.input[0], node), node.name)
    w = im.const(node.input[1])
    out = node.output[0]
    if w is not None and w.ndim == 2:
        bias, out = _trailing_bias(im, node, w.shape[1])
        name = im.add(Dense, node.name or out, [x.name], op="dense", units=int(w.shape[1]),
                      bias=bias is not None)
        im.weights[f"{name}.kernel"] = w
        if bias is not None:
            im.weights[f"{name}.bias"] = bias
    elif w is not None:
        raise _refuse(im, node, "MatMul by a constant of rank > 2 is not supported")
    else:
        y = im.get(node.input[1], node)
        swapped = None if y.perm is None else _compose(y.perm, _swap_last(len(y.shape)))
        transpose_b = y.perm is not None and swapped is None  # Bᵀ: read B transposed
        y = Tensor(y.name, y.shape) if transpose_b else im.nchw(y, node.name)
        scale, out = _trailing_scale(im, node)
        name = im.add(MatMul, node.name or out, [x.name, y.name], op="matmul", scale=scale,
                      transpose_b=transpose_b)
    im.tensors[out] = Tensor(name, im.shape(out, node))


def _einsum(im: _Import, node) -> None:
    """A two-operand Einsum that is a (batched) matrix product, whatever its index order:
    operands permuted and reshaped to [batch, M, K] · [batch, K, N] (or a dense layer by a
    constant), then reshaped and permuted to the output's order."""
    eq = attrs(node)["equation"]
    eq = (eq.decode() if isinstance(eq, bytes) else eq).replace(" ", "")
    terms, _, out = eq.partition("->")
    terms = terms.split(",")
    if "." in eq or not out and "->" not in eq or len(terms) != 2 or any(
            len(set(t)) != len(t) for t in (*terms, out)):
        raise _refuse(im, node, f"Einsum {eq!r} is not a matrix product")
    a, b = terms
    if set(out) - set(a + b) or (set(a) ^ set(b)) - set(out):
        raise _refuse(im, node, f"Einsum {eq!r} is not a matrix product")
    if im.const(node.input[0]) is not None:
        raise _refuse(im, node, "Einsum of a constant first operand is not supported")
    x = im.get(node.input[0], node)
    size = dict(zip(a, x.shape, strict=True))
    batch = [c for c in out if c in a and c in b]
    rows = [c for c in out if c in a and c not in b]
    cols = [c for c in out if c in b and c not in a]
    inner = [c for c in a if c in b and c not in out]
    w = im.const(node.input[1])
    if w is not None:
        size.update(zip(b, w.shape, strict=True))
    else:
        size.update(zip(b, im.get(node.input[1], node).shape, strict=True))
    dims = lambda letters: [size[c] for c in letters]  # noqa: E731
    m, k, n = (int(np.prod(dims(g))) for g in (rows, inner, cols))
    xa = _arrange(im, x, a, batch + rows + inner, [*dims(batch), m, k], node)
    hint = node.name or node.output[0]
    if w is not None:
        if batch:
            raise _refuse(im, node, "Einsum by a constant with batch indices is not supported")
        kernel = w.transpose([b.index(c) for c in inner + cols]).reshape(k, n)
        name = im.add(Dense, hint, [xa], op="dense", units=n, bias=False)
        im.weights[f"{name}.kernel"] = kernel
    else:
        y = im.get(node.input[1], node)
        yb = _arrange(im, y, b, batch + inner + cols, [*dims(batch), k, n], node)
        name = im.add(MatMul, hint, [xa, yb], op="matmul")
    grouped = batch + rows + cols
    shape = tuple(dims(grouped))
    name = im.add(Reshape, f"{name}/unflatten", [name], op="reshape", shape=shape)
    perm = tuple(grouped.index(c) for c in out)
    im.tensors[node.output[0]] = Tensor(name, tuple(dims(out)), _compose(None, perm),
                                        node.name)


def _arrange(im: _Import, t: Tensor, letters: str, order: list[str], shape: list[int],
             node) -> str:
    """``t`` (indexed by ``letters``) permuted to ``order`` and reshaped to ``shape``."""
    perm = tuple(letters.index(c) for c in order)
    moved = Tensor(t.name, tuple(t.shape[p] for p in perm), _compose(t.perm, perm), t.via)
    held = im.nchw(moved, node.name)
    if tuple(shape) == held.shape:
        return held.name
    return im.add(Reshape, f"{node.name or node.output[0]}/{letters}", [held.name],
                  op="reshape", shape=tuple(shape))


def _swap_last(rank: int) -> tuple[int, ...]:
    return (*range(rank - 2), rank - 1, rank - 2)


def _single_consumer(im: _Import, tensor: str, op_type: str):
    users = im.consumers.get(tensor, [])
    ok = len(users) == 1 and users[0].op_type == op_type and tensor not in im.outputs
    return users[0] if ok else None


def _trailing_bias(im: _Import, node, units: int):
    """A constant Add right after (a bias): fold it in, and skip that node."""
    add = _single_consumer(im, node.output[0], "Add")
    if add is not None:
        other = [n for n in add.input if n != node.output[0]]
        if len(other) == 1 and other[0] in im.consts and im.consts[other[0]].size == units \
                and im.consts[other[0]].ndim <= 1:
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
        if len(other) == 1 and other[0] in im.consts and im.consts[other[0]].size == 1 \
                and user.input[0] == node.output[0]:
            value = float(im.consts[other[0]].reshape(()))
            im.skip.add(id(user))
            return (value if op_type == "Mul" else 1.0 / value), user.output[0]
    return 1.0, node.output[0]


def _batchnorm(im: _Import, node) -> None:
    x = im.get(node.input[0], node)
    eps = float(attrs(node).get("epsilon", 1e-5))
    if len(x.shape) not in (2, 4):  # BatchNorm1d over [N, C, L]: scale and shift
        gamma, beta, mean, var = (im.consts[n] for n in node.input[1:5])
        scale = gamma / np.sqrt(var + eps)
        shape = (-1,) + (1,) * (len(x.shape) - 2)
        _pointwise(im, node, "Mul", [node.input[0], scale.reshape(shape)], f"{node.name}/scale",
                   out=node.output[0] + "/scaled")
        _pointwise(im, node, "Add", [node.output[0] + "/scaled",
                                     (beta - mean * scale).reshape(shape)],
                   f"{node.name}/shift")
        return
    x = im.nhwc(x, node.name) if len(x.shape) == 4 else im.nchw(x, node.name)
    name = im.add(BatchNorm, node.name or node.output[0], [x.name], op="batchnorm", epsilon=eps)
    for key, idx in (("gamma", 1), ("beta", 2), ("mean", 3), ("var", 4)):
        im.weights[f"{name}.{key}"] = im.consts[node.input[idx]]
    im.tensors[node.output[0]] = Tensor(name, x.shape, x.perm)


# -- activations and elementwise ops --------------------------------------------------------

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
    lo = im.const(node.input[1]) if len(node.input) > 1 else None
    hi = im.const(node.input[2]) if len(node.input) > 2 else None
    a = attrs(node)
    lo = float(lo) if lo is not None else a.get("min", None)
    hi = float(hi) if hi is not None else a.get("max", None)
    if lo == 0.0 and hi == 6.0:
        return _unary("relu6")(im, node)
    if lo == 0.0 and hi is None:
        return _unary("relu")(im, node)
    return _onnx_op(im, node)


def _binary(op: str) -> Callable:
    """Add or Mul: of activations of one layout, a simaccel ``add``/``mul`` layer (fusable);
    anything else (a constant operand, broadcasting across layouts) the plain ONNX op."""
    def handle(im: _Import, node) -> None:
        if any(n in im.consts for n in node.input):
            return _onnx_op(im, node)
        ins = [im.get(n, node) for n in node.input]
        if len({t.perm for t in ins}) > 1 or len({t.shape for t in ins}) > 1:
            return _onnx_op(im, node)
        name = im.add(Add, node.name or node.output[0], [t.name for t in ins], op=op)
        im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), ins[0].perm)
    return handle


def _pointwise(im: _Import, node, onnx_op: str, operands: list, hint: str,
               out: str | None = None, **attributes) -> None:
    """An elementwise ``onnx_op`` of activations (names) and constants (arrays) that the
    frontend builds itself (a decomposed BatchNorm, an unrolled RNN)."""
    acts = [im.get(o, node) for o in operands if isinstance(o, str)]
    perm = acts[0].perm if len({t.perm for t in acts}) == 1 else None
    if perm is None:
        acts = [im.nchw(t, hint) for t in acts]
    shape = _broadcast_shapes([t.shape for t in acts] + [np.shape(o) for o in operands
                                                         if not isinstance(o, str)])
    consts = {i: _to_layout(np.asarray(o, dtype=np.float64), len(shape), perm)
              for i, o in enumerate(operands) if not isinstance(o, str)}
    held = im.shape_held(Tensor("", shape, perm))
    name = _emit(im, hint, "eltwise", onnx_op, [t.name for t in acts], consts, held, attributes)
    im.tensors[out or node.output[0]] = Tensor(name, shape, perm)


def _broadcast_shapes(shapes: list) -> tuple[int, ...]:
    return tuple(int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes]))


def _to_layout(value: np.ndarray, rank: int, perm: tuple[int, ...] | None) -> np.ndarray:
    """A constant operand (ONNX layout, broadcasting) in the layout of tensors held with
    ``perm``: padded to ``rank`` with leading 1s, then transposed."""
    if perm is None:
        return value
    value = value.reshape((1,) * (rank - value.ndim) + value.shape)
    return value.transpose(np.argsort(perm))


def _emit(im: _Import, hint: str, kind: str, onnx_op: str, acts: list[str],
          consts: dict[int, np.ndarray], shape: tuple[int, ...], attributes: dict) -> str:
    """An `OnnxOp` layer with its constant operands as weights."""
    if not acts:
        raise Unsupported(im.source, f"node {hint}", f"{onnx_op} has no activation operand")
    name = im.add(OnnxOp, hint, acts, op=kind, onnx_op=onnx_op,
                  attributes=_plain(attributes),
                  consts=tuple((i, tuple(int(d) for d in v.shape)) for i, v in consts.items()),
                  shape=shape)
    for i, v in consts.items():
        im.weights[f"{name}.c{i}"] = np.asarray(v, dtype=np.float64)
    return name


def _plain(attributes: dict) -> dict:
    """ONNX attribute values as JSON-able Python values (strings decoded)."""
    out = {}
    for key, value in attributes.items():
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list | tuple):
            value = tuple(v.decode() if isinstance(v, bytes) else v for v in value)
        if isinstance(value, int | float | str) or (isinstance(value, tuple) and all(
                isinstance(v, int | float) for v in value)):
            out[key] = value
    return out


def _onnx_op(im: _Import, node, consts: dict[int, np.ndarray] | None = None,
             **extra) -> None:
    """Any op of `simaccel.ops_onnx` by its ONNX meaning: elementwise ops keep the layout
    their operands are held in (constants are transposed to it), the others run in ONNX
    element order. ``consts`` replaces constant operands (by position); ``extra`` adds
    attributes."""
    kind = ops_onnx.OPS[node.op_type].kind
    acts = [(i, im.get(n, node)) for i, n in enumerate(node.input) if n and n not in im.consts]
    given = consts or {}
    consts = {i: given.get(i, im.consts[n]) for i, n in enumerate(node.input)
              if n in im.consts}
    consts.update({i: np.zeros(0) for i, n in enumerate(node.input) if not n})
    shape = im.shape(node.output[0], node)
    perms = {t.perm for _, t in acts}
    same_rank = all(len(t.shape) == len(shape) for _, t in acts)
    perm = perms.pop() if kind == "eltwise" and len(perms) == 1 and same_rank else None
    if perm is None:
        acts = [(i, im.nchw(t, node.name)) for i, t in acts]
    else:
        consts = {i: _to_layout(v, len(shape), perm) if v.size else v
                  for i, v in consts.items()}
    if node.op_type == "Pad" and len(node.input) < 2:
        pass
    held = im.shape_held(Tensor("", shape, perm))
    name = _emit(im, node.name or node.output[0], kind, node.op_type,
                 [t.name for _, t in acts], consts, held, {**attrs(node), **extra})
    im.tensors[node.output[0]] = Tensor(name, shape, perm)


def _qdq(im: _Import, node) -> None:
    """QuantizeLinear / DequantizeLinear (of activations; of weights they fold): a
    per-axis scale and zero point laid along their axis, then elementwise."""
    from onnx import helper

    a = attrs(node)
    if a.get("block_size", 0):
        raise _refuse(im, node, f"blocked {node.op_type} is not supported")
    rank = len(im.shape(node.output[0], node))
    consts = {}
    for i in (1, 2):
        value = im.const(node.input[i]) if len(node.input) > i else None
        if value is not None and value.size > 1:
            shape = [1] * rank
            shape[int(a.get("axis", 1)) % rank] = -1
            consts[i] = value.reshape(shape)
    extra = {}
    if node.op_type == "QuantizeLinear":
        zp = im.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        kind = np.dtype(np.uint8) if zp is None else zp.dtype
        if a.get("output_dtype"):
            kind = helper.tensor_dtype_to_np_dtype(int(a["output_dtype"]))
        extra["zero_point_type"] = str(kind)
        if str(kind) not in ("int8", "uint8", "int16", "uint16", "int32"):
            raise _refuse(im, node, f"QuantizeLinear to {kind} is not supported")
    _onnx_op(im, node, consts, **extra)


def _reduce(im: _Import, node) -> None:
    """ReduceMean over H and W of a feature map is a global average pool; any other
    reduction is the plain op."""
    x = im.tensors.get(node.input[0])
    a = attrs(node)
    axes = a.get("axes")
    if axes is None and len(node.input) > 1 and im.const(node.input[1]) is not None:
        axes = im.consts[node.input[1]].reshape(-1).tolist()
    if node.op_type == "ReduceMean" and x is not None and len(x.shape) == 4 and axes is not \
            None and sorted(int(i) % 4 for i in axes) == [2, 3]:
        return _global_pool(im, node, keepdims=bool(a.get("keepdims", 1)))
    _onnx_op(im, node)


# -- pooling --------------------------------------------------------------------------------

def _pool(op: str) -> Callable:
    def handle(im: _Import, node) -> None:
        a = attrs(node)
        if len(node.output) > 1 and node.output[1]:
            raise _refuse(im, node, "MaxPool's indices output is not supported")
        x = im.get(node.input[0], node)
        if len(x.shape) != 4:
            raise _refuse(im, node, "only 2-D pooling is supported")
        k = tuple(a["kernel_shape"])
        strides = tuple(a.get("strides", [1, 1]))
        dilations = tuple(a.get("dilations", [1, 1]))
        pads = _window_pads(im, node, x, k, strides, dilations)
        if a.get("ceil_mode", 0):
            pads = _ceil_pads(x.shape[2:], k, strides, dilations, pads)
        include = bool(a.get("count_include_pad", 0)) and op == "avgpool2d"
        if include and a.get("ceil_mode", 0):
            raise _refuse(im, node, "ceil_mode with count_include_pad is not supported")
        x = im.nhwc(x, node.name)
        name = im.add(Pool2d, node.name or node.output[0], [x.name], op=op, pool=k,
                      stride=strides, dilation=dilations, count_include_pad=include,
                      padding=(pads[0], pads[2], pads[1], pads[3]))
        im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), TO_NCHW)
    return handle


def _ceil_pads(in_hw, k, strides, dilations, pads: list[int]) -> list[int]:
    """Pads with extra rows/columns at the end so that floor division gives ONNX's
    ceil_mode output size (a last window must start inside the input or its left pad)."""
    out = list(pads)
    for axis, (size, kk, s, d) in enumerate(zip(in_hw, k, strides, dilations, strict=True)):
        span = d * (kk - 1) + 1
        total = size + pads[axis] + pads[axis + 2]
        n = -(-(total - span) // s) + 1
        if (n - 1) * s >= size + pads[axis]:
            n -= 1
        out[axis + 2] += max((n - 1) * s + span - total, 0)
    return out


def _global_pool(im: _Import, node, keepdims: bool = True) -> None:
    x = im.nhwc(im.get(node.input[0], node), node.name)
    pooled = im.add(GlobalAvgPool, node.name or node.output[0], [x.name], op="global_avgpool")
    shape = im.shape(node.output[0], node)  # [N, C, 1, 1] (or [N, C]); simaccel's is [N, C]
    if not keepdims:
        im.tensors[node.output[0]] = Tensor(pooled, shape)
        return
    name = im.add(Reshape, f"{pooled}/nhwc", [pooled], op="reshape",
                  shape=(shape[0], 1, 1, shape[1]))
    im.tensors[node.output[0]] = Tensor(name, shape, TO_NCHW)


# -- normalisations -------------------------------------------------------------------------

def _softmax(im: _Import, node) -> None:
    x = im.get(node.input[0], node)
    name = im.add(Softmax, node.name or node.output[0], [x.name], op="softmax",
                  axis=_channel_axis(x, int(attrs(node).get("axis", -1))))
    im.tensors[node.output[0]] = Tensor(name, x.shape, x.perm)


def _layernorm(im: _Import, node) -> None:
    x = im.get(node.input[0], node)
    a = attrs(node)
    gamma, beta = im.const(node.input[1]), im.const(node.input[2]) if len(node.input) > 2 \
        else np.zeros(x.shape[-1])
    last = int(a.get("axis", -1)) % len(x.shape) == len(x.shape) - 1
    if not last or gamma is None or beta is None or len(node.output) > 1 and any(
            node.output[1:]):
        return _onnx_op(im, node)
    x = im.nchw(x, node.name)
    name = im.add(LayerNorm, node.name or node.output[0], [x.name], op="layernorm",
                  epsilon=float(a.get("epsilon", 1e-5)))
    c = x.shape[-1]
    im.weights[f"{name}.gamma"] = np.broadcast_to(gamma, (c,)).copy()
    im.weights[f"{name}.beta"] = np.broadcast_to(beta, (c,)).copy()
    im.tensors[node.output[0]] = Tensor(name, x.shape)


# -- data movement --------------------------------------------------------------------------

def _reshape_like(im: _Import, node) -> None:
    """Flatten, Reshape, Squeeze, Unsqueeze: a reshape in ONNX element order."""
    x = im.nchw(im.get(node.input[0], node), node.name)
    shape = im.shape(node.output[0], node)
    if shape == x.shape:
        im.tensors[node.output[0]] = x
        return
    name = im.add(Reshape, node.name or node.output[0], [x.name], op="reshape", shape=shape)
    im.tensors[node.output[0]] = Tensor(name, shape)


def _transpose(im: _Import, node) -> None:
    """A permutation composed onto the tensor's pending one; no layer until an op needs
    the element order."""
    x = im.get(node.input[0], node)
    perm = tuple(attrs(node).get("perm", list(range(len(x.shape)))[::-1]))
    im.tensors[node.output[0]] = Tensor(x.name, tuple(x.shape[p] for p in perm),
                                        _compose(x.perm, perm), node.name or node.output[0])


def _alias(im: _Import, node) -> None:
    im.tensors[node.output[0]] = im.get(node.input[0], node)


def _concat(im: _Import, node) -> None:
    if len([n for n in node.input if n]) == 1:
        return _alias(im, node)
    if any(n in im.consts for n in node.input):
        return _onnx_op(im, node)
    ins = [im.get(n, node) for n in node.input]
    if len({t.perm for t in ins}) > 1:
        ins = [im.nchw(t, node.name) for t in ins]
    axis = _channel_axis(ins[0], int(attrs(node)["axis"]))
    name = im.add(Concat, node.name or node.output[0], [t.name for t in ins], op="concat",
                  axis=axis)
    im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), ins[0].perm)


def _split(im: _Import, node) -> None:
    """Split: one Slice per output, each moving its part's bytes."""
    x = im.nchw(im.get(node.input[0], node), node.name)
    a = attrs(node)
    axis = int(a.get("axis", 0)) % len(x.shape)
    start = 0
    for i, out in enumerate(node.output):
        size = im.shape(out, node)[axis]
        if out:
            consts = {1: np.array([start]), 2: np.array([start + size]), 3: np.array([axis])}
            name = _emit(im, f"{node.name or out}/{i}", "move", "Slice", [x.name], consts,
                         im.shape(out, node), {})
            im.tensors[out] = Tensor(name, im.shape(out, node))
        start += size


def _pad(im: _Import, node) -> None:
    """Zero padding of H and W that a Conv reads (perhaps through a Transpose, as tf2onnx
    writes Keras' ZeroPadding2D) is folded into the conv's padding; any other Pad moves
    data."""
    if not _pad_into_conv(im, node):
        _onnx_op(im, node)


def _pad_into_conv(im: _Import, node) -> bool:
    a = attrs(node)
    mode = a.get("mode", b"constant")
    pads = im.const(node.input[1]) if len(node.input) > 1 else np.array(a.get("pads", []))
    value = im.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if mode not in (b"constant", "constant") or pads is None or (value is not None and np.any(
            value != 0)) or (len(node.input) > 3 and node.input[3]) or np.any(pads < 0):
        return False
    x = im.tensors.get(node.input[0])
    if x is None or len(x.shape) != 4:
        return False
    rank, perm, tensor = 4, tuple(range(4)), node.output[0]
    user = im.consumers.get(tensor, [None])[0]
    while im.single_use(tensor) and user.op_type == "Transpose":
        perm = tuple(perm[p] for p in attrs(user).get("perm", range(rank - 1, -1, -1)))
        tensor = user.output[0]
        user = im.consumers.get(tensor, [None])[0]
    if not im.single_use(tensor) or user.op_type != "Conv" or user.input[0] != tensor or \
            id(user) in im.extra_pads:
        return False
    begin, end = pads[:rank], pads[rank:]
    # the conv's input axis j is the Pad's axis perm[j]
    if any(begin[perm[j]] or end[perm[j]] for j in (0, 1)):
        return False
    im.extra_pads[id(user)] = (int(begin[perm[2]]), int(end[perm[2]]), int(begin[perm[3]]),
                               int(end[perm[3]]))
    im.tensors[node.output[0]] = x
    return True


# -- patterns -------------------------------------------------------------------------------

def _const_near(im: _Import, name: str, value: float) -> bool:
    return name in im.consts and im.consts[name].size == 1 and abs(
        float(im.consts[name].reshape(())) - value) < 1e-3 * max(1.0, abs(value))


def _other(node, name: str) -> str:
    rest = [n for n in node.input if n != name]
    return rest[0] if rest else ""


def _find_gelu(im: _Import, erf) -> None:
    """x · ½ · (1 + erf(x/√2)), in any association and order of the products and with x/√2
    as a Div or a Mul: registered as one gelu layer emitted at the pattern's last node."""
    pre = im.producers.get(erf.input[0])
    if pre is None or not im.single_use(erf.input[0]):
        return
    by_div = pre.op_type == "Div" and _const_near(im, pre.input[1], 2**0.5)
    if by_div or pre.op_type == "Mul" and _const_near(im, pre.input[1], 2**-0.5):
        x = pre.input[0]
    elif pre.op_type == "Mul" and _const_near(im, pre.input[0], 2**-0.5):
        x = pre.input[1]
    else:
        return
    add = _single_consumer(im, erf.output[0], "Add")
    if add is None or not _const_near(im, _other(add, erf.output[0]), 1.0):
        return
    nodes = [pre, erf, add]
    factors, tensor, last = [], add.output[0], None
    while len(factors) < 2:
        mul = _single_consumer(im, tensor, "Mul")
        if mul is None:
            return
        other = _other(mul, tensor)
        half = im.producers.get(other)
        if _const_near(im, other, 0.5) or other == x:
            factors.append("half" if other != x else "x")
        elif half is not None and half.op_type == "Mul" and im.single_use(other) and \
                x in half.input and _const_near(im, _other(half, x), 0.5):
            factors += ["x", "half"]
            nodes.append(half)
        else:
            return
        nodes.append(mul)
        tensor, last = mul.output[0], mul
    if sorted(factors) != ["half", "x"]:
        return

    def emit() -> None:
        t = im.get(x, last)
        name = im.add(Elementwise, last.name or last.output[0], [t.name], op="gelu")
        im.tensors[last.output[0]] = Tensor(name, t.shape, t.perm)

    im.skip.update(id(n) for n in nodes if n is not last)
    im.patterns[id(last)] = emit


def _layernorm_pattern(im: _Import, node) -> bool:
    """ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div (, Mul γ, Add β) is
    LayerNormalization over the last axis."""
    if node.op_type != "ReduceMean":
        return False
    x = node.input[0]
    users = im.consumers.get(node.output[0], [])
    sub = users[0] if len(users) == 1 and users[0].op_type == "Sub" else None
    if sub is None or sub.input[0] != x or x not in im.tensors:
        return False
    axes = attrs(node).get("axes")
    if axes is None and len(node.input) > 1:
        axes = im.consts.get(node.input[1], np.array([0])).reshape(-1).tolist()
    if axes is None or [int(a) % len(im.tensors[x].shape) for a in axes] != [
            len(im.tensors[x].shape) - 1]:
        return False
    pow_ = next((u for u in im.consumers.get(sub.output[0], []) if u.op_type == "Pow"), None)
    div = next((u for u in im.consumers.get(sub.output[0], []) if u.op_type == "Div"), None)
    mean2 = pow_ and _const_near(im, pow_.input[1], 2.0) and _single_consumer(
        im, pow_.output[0], "ReduceMean")
    add = mean2 and _single_consumer(im, mean2.output[0], "Add")
    sqrt = add and _single_consumer(im, add.output[0], "Sqrt")
    if not (sqrt and div and div.input[1] == sqrt.output[0]) or len(
            im.consumers.get(sub.output[0], [])) != 2:
        return False
    eps_name = _other(add, mean2.output[0])
    if eps_name not in im.consts:
        return False
    t = im.nchw(im.get(x, node), node.name or "layernorm")
    c = t.shape[-1]
    out, gamma, beta = div.output[0], np.ones(c), np.zeros(c)
    skip = [sub, pow_, div, mean2, add, sqrt]
    mul = _single_consumer(im, out, "Mul")
    if mul is not None and _other(mul, out) in im.consts and im.consts[
            _other(mul, out)].size == c:
        gamma, out = im.consts[_other(mul, out)].reshape(c), mul.output[0]
        skip.append(mul)
        bias = _single_consumer(im, out, "Add")
        if bias is not None and _other(bias, out) in im.consts and im.consts[
                _other(bias, out)].size == c:
            beta, out = im.consts[_other(bias, out)].reshape(c), bias.output[0]
            skip.append(bias)
    name = im.add(LayerNorm, node.name or out, [t.name], op="layernorm",
                  epsilon=float(im.consts[eps_name].reshape(())))
    im.weights[f"{name}.gamma"], im.weights[f"{name}.beta"] = gamma, beta
    im.tensors[out] = Tensor(name, t.shape)
    im.skip.update(id(n) for n in skip)
    return True


HANDLERS: dict[str, Callable] = {
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "Einsum": _einsum,
    "BatchNormalization": _batchnorm,
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"),
    "Gelu": _gelu, "Clip": _clip, "Softmax": _softmax,
    "LayerNormalization": _layernorm, "MaxPool": _pool("maxpool2d"),
    "AveragePool": _pool("avgpool2d"), "GlobalAveragePool": _global_pool,
    "Add": _binary("add"), "Mul": _binary("mul"), "Concat": _concat, "Split": _split,
    "Pad": _pad, "Flatten": _reshape_like, "Reshape": _reshape_like,
    "Squeeze": _reshape_like, "Unsqueeze": _reshape_like, "Transpose": _transpose,
    "Identity": _alias, "Dropout": _alias, "QuantizeLinear": _qdq, "DequantizeLinear": _qdq,
    **{op: _reduce for op, d in ops_onnx.REDUCE.items() if op.startswith("Reduce")},
}

#: Ops that only compute constants and shapes: folded at import, never "unsupported".
SHAPE_OPS = {"Shape", "Size", "Constant", "ConstantOfShape", "Range"}


def supported(op_type: str) -> bool:
    """Whether the frontend translates ``op_type`` (an ONNX standard-domain op)."""
    return op_type in HANDLERS or op_type in ops_onnx.OPS or op_type in RNN_OPS


# -- the import -----------------------------------------------------------------------------

def _opaque(im: _Import, node) -> None:
    """An unsupported op (``--allow-unknown``): costed by the bytes it reads and writes."""
    ins = [im.tensors[n] for n in node.input if n in im.tensors]
    if not ins:  # computed from constants alone: ordered after the first model input
        ins = [im.tensors[im.inputs[0].name]] if im.inputs else []
    if not ins:
        raise _refuse(im, node, f"{node.op_type} has no activation input")
    first = ""
    for out in node.output:
        if not out:
            continue
        known = im.shapes.get(out)  # else a guess: the input's shape
        shape = (known or im.shape_held(ins[0])) or (1,)
        name = im.add(Opaque, node.name or out, [t.name for t in ins] if not first else [first],
                      op="opaque", onnx_op=node.op_type, shape=shape,
                      implies_macs=node.op_type in IMPLIES_MACS)
        first = first or name
        im.tensors[out] = Tensor(name, shape)


#: Op types whose work is multiply-accumulates: unaccounted for when costed as opaque.
IMPLIES_MACS = {"LSTM", "GRU", "RNN", "Einsum", "Conv", "ConvTranspose", "ConvInteger", "Gemm",
                "MatMul", "MatMulInteger", "QLinearConv", "QLinearMatMul", "Attention",
                "MultiHeadAttention", "DeformConv"}


def _subgraph_ops(node) -> list[str]:
    """Op types inside ``node``'s subgraphs (If, Loop, Scan bodies), however deep."""
    from onnx import AttributeProto

    found = []
    for attr in node.attribute:
        graphs = [attr.g] if attr.type == AttributeProto.GRAPH else (
            list(attr.graphs) if attr.type == AttributeProto.GRAPHS else [])
        for g in graphs:
            for inner in g.node:
                found.append(inner.op_type)
                found += _subgraph_ops(inner)
    return found


def _walk(im: _Import, graph) -> None:
    """Translate every node. Without ``allow_unknown`` the walk still goes on past an
    unsupported op (a stand-in carries its outputs) so that the error lists every one."""
    for node in graph.node:
        if node.op_type == "Erf":
            _find_gelu(im, node)
    downstream: set[str] = set()  # tensors computed from an unsupported op's output
    for node in graph.node:
        guarded(im.source, node, partial(_translate, im, node, downstream))


def _translate(im: _Import, node, downstream: set[str]) -> None:
    """One node of `_walk`: skipped (part of a pattern, or downstream of an unsupported
    op), matched as a pattern, handled, or listed as unsupported. Constant subgraphs were
    folded away before (`onnx_graph.read_graph`)."""
    if id(node) in im.patterns:
        im.patterns[id(node)]()
        return
    if id(node) in im.skip:
        return
    inner = [op for op in _subgraph_ops(node) if not supported(op) and op not in SHAPE_OPS]
    for op in inner:
        im.unknown.append((op, f"inside {node.name or node.op_type}", ""))
    if downstream & set(node.input):  # cannot be translated, but may be unsupported
        if not supported(node.op_type) and node.op_type not in SHAPE_OPS:
            im.unknown.append((node.op_type, node.name or node.output[0], ""))
        downstream.update(node.output)
        return
    if _layernorm_pattern(im, node):
        return
    why = ""
    if supported(node.op_type) and node.domain in ("", "ai.onnx"):
        handler = HANDLERS.get(node.op_type) or RNN_OPS.get(node.op_type) or _onnx_op
        try:
            handler(im, node)
            return
        except InputError as exc:
            if not (im.allow_unknown or isinstance(exc, Unsupported)):
                raise
            why = exc.message
        except _MALFORMED as exc:
            if not im.allow_unknown:
                raise
            why = f"{type(exc).__name__}: {exc}"
    im.unknown.append((node.op_type, node.name or node.output[0], why))
    if im.allow_unknown:
        _opaque(im, node)
        return
    try:  # stand-in so that what follows is still tried (and its refusals counted)
        _opaque(im, node)
    except (InputError, *_MALFORMED):
        downstream.update(node.output)


def _unsupported_message(unknown: list[tuple[str, str, str]], limit: int = 400) -> str:
    """Every unsupported op type with its count, and the first node of each, in one
    bounded line."""
    counts = Counter(op for op, _, _ in unknown)
    first = {}
    for op, where, why in unknown:
        first.setdefault(op, (where, why))
    parts = []
    for op, n in counts.most_common():
        where, why = first[op]
        detail = f"{why[:80]}" if why else f"e.g. {where[:40]}"
        parts.append(f"{op} ×{n} ({detail})")
    text = ", ".join(parts)
    if len(text) > limit:
        text = ", ".join(f"{op} ×{n}" for op, n in counts.most_common())
        if len(text) > limit:
            text = text[:limit].rsplit(",", 1)[0] + ", ..."
    return f"unsupported ONNX ops ({sum(counts.values())} in {len(counts)} types): {text}"


def _model_inputs(im: _Import, graph) -> list[tuple[str, str, tuple[int, ...] | None]]:
    """Declare the model's inputs: a 4-D NCHW image input (torch) becomes NHWC; a 4-D input
    that every consumer transposes (or, with one channel, reshapes) to NCHW first (tf2onnx
    from Keras) already is NHWC. Integer inputs (token ids, masks) are int32."""
    from onnx import TensorProto

    declared = []
    for inp in graph.input:
        if inp.name in im.consts:
            continue
        shape = im.shape(inp.name, inp)
        users = im.consumers.get(inp.name, [])
        keras = bool(users) and all(_to_nchw(im, u, shape) for u in users)
        nchw = len(shape) == 4 and not keras
        ours = (shape[0], shape[2], shape[3], shape[1]) if nchw else shape
        name = im.unique(inp.name)
        integer = inp.type.tensor_type.elem_type not in (
            TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16)
        im.inputs.append(TensorSpec(name=name, shape=ours,
                                    dtype=DType.INT32 if integer else DType.FP32))
        im.tensors[inp.name] = Tensor(name, shape, TO_NCHW if nchw else None)
        if keras:  # the one-channel Reshape is the NHWC → NCHW transpose
            for u in users:
                if u.op_type == "Reshape":
                    im.tensors[u.output[0]] = Tensor(name, im.shape(u.output[0], u), TO_NCHW)
                    im.skip.add(id(u))
        declared.append((inp.name, name, (0, 2, 3, 1) if nchw else None))
    return declared


def _to_nchw(im: _Import, node, shape: tuple[int, ...]) -> bool:
    """``node`` turns an NHWC input of ``shape`` into NCHW: Transpose(0, 3, 1, 2), or with
    one channel a Reshape to [N, 1, H, W]."""
    if len(shape) != 4:
        return False
    if node.op_type == "Pad" and im.single_use(node.output[0]):  # Keras ZeroPadding2D
        return _to_nchw(im, im.consumers[node.output[0]][0], im.shapes.get(node.output[0], ()))
    if node.op_type == "Transpose":
        return tuple(attrs(node).get("perm", ())) == TO_NCHW
    return node.op_type == "Reshape" and shape[3] == 1 and im.shapes.get(
        node.output[0]) == (shape[0], 1, shape[1], shape[2])


def _output(im: _Import, t: Tensor, onnx_name: str) -> tuple[str, tuple[int, ...] | None]:
    """A model output: in ONNX element order, except that NCHW maps stay NHWC; and the axes
    that turn it into the ONNX tensor."""
    if t.perm is None:
        return t.name, None
    if t.nhwc:
        return t.name, TO_NCHW
    return im.nchw(t, onnx_name).name, None


def load_onnx(path: Path, allow_unknown: bool = False,
              dims: dict[str, int] | None = None) -> Model:
    """Load an ONNX model as a `Model` whose weights are the model's initializers.

    ``allow_unknown`` costs unsupported ops by the bytes they move (numerics are then
    skipped) instead of refusing the model; the model's ``description`` lists them.
    ``dims`` gives symbolic dimensions their values (default 1).
    """
    source = str(path)
    proto, given = read_graph(path, dims)
    im = _Import(proto.graph, source, allow_unknown)
    declared = _model_inputs(im, proto.graph)
    _walk(im, proto.graph)
    if im.unknown and not allow_unknown:
        raise InputError(source, "graph", _unsupported_message(im.unknown)
                         + "; --allow-unknown costs them by the bytes they move")
    outputs = []
    for o in proto.graph.output:
        if o.name not in im.tensors:
            raise InputError(source, f"graph.output[{o.name}]", "the output is a constant; "
                             "there is nothing to simulate")
        outputs.append((o.name, *_output(im, im.tensors[o.name], o.name)))
    kinds = Counter(op for op, _, _ in im.unknown)
    note = f"; costed by bytes: {', '.join(f'{k} ×{n}' for k, n in kinds.items())}" \
        if im.unknown else ""
    return Model(name=proto.graph.name or path.stem, inputs=tuple(im.inputs),
                 layers=tuple(im.layers), outputs=tuple(name for _, name, _ in outputs),
                 source=source, description=f"imported from ONNX {path.name}{note}",
                 weights=im.weights, onnx_inputs=tuple(declared),
                 onnx_outputs=tuple(outputs), dims=given)


from simaccel.frontends.onnx_rnn import RNN_OPS  # noqa: E402 - it builds on this module
