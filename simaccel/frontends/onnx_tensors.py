"""The state of one ONNX import and how ONNX tensors are held.

Layout: ONNX convolutions are NCHW; simaccel's are NHWC. Every ONNX tensor is held as a
simaccel tensor plus a pending permutation (`Tensor.perm`): the ONNX tensor is the simaccel
tensor transposed by ``perm``. Convs and pools produce NHWC tensors whose ONNX view is
NCHW (perm 0, 3, 1, 2); elementwise ops keep the permutation (their constants are
transposed to it); an ONNX Transpose only composes it and costs nothing by itself. Where an
op needs a particular element order (Flatten, Reshape, MatMul, LayerNorm need the ONNX
order; Conv and pools need NHWC) a simaccel transpose is inserted, once per tensor and order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simaccel.errors import InputError
from simaccel.frontends.onnx_graph import (
    constants,
    static_shapes,
)
from simaccel.model import (
    OnnxOp,
    Reshape,
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


def compose(p: tuple[int, ...] | None, q: tuple[int, ...]) -> tuple[int, ...] | None:
    """The permutation of ``x.transpose(p).transpose(q)`` from ``x`` (None: identity)."""
    r = tuple(p[i] for i in q) if p is not None else tuple(q)
    return None if r == tuple(range(len(r))) else r


class Importer:
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
        #: the ONNX node being translated, and per layer the node it was made for
        self.node = ""
        self.origin: dict[str, str] = {}

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
        self.origin[layer.name] = self.node or layer.name
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
        perm = compose(t.perm, (0, 2, 3, 1))
        name = t.name if perm is None else self.permuted(t, perm, hint)
        return Tensor(name, t.shape, TO_NCHW)


def channel_axis(t: Tensor, axis: int) -> int:
    """An ONNX axis of ``t`` as the axis of the simaccel tensor holding it."""
    axis %= len(t.shape)
    return t.perm[axis] if t.perm is not None else axis


def refuse(im: Importer, node, message: str) -> Unsupported:
    return Unsupported(im.source, f"node {node.name or node.op_type}", message)


def single_consumer(im: Importer, tensor: str, op_type: str):
    users = im.consumers.get(tensor, [])
    ok = len(users) == 1 and users[0].op_type == op_type and tensor not in im.outputs
    return users[0] if ok else None


def broadcast_shapes(shapes: list) -> tuple[int, ...]:
    return tuple(int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes]))


def to_layout(value: np.ndarray, rank: int, perm: tuple[int, ...] | None) -> np.ndarray:
    """A constant operand (ONNX layout, broadcasting) in the layout of tensors held with
    ``perm``: padded to ``rank`` with leading 1s, then transposed."""
    if perm is None:
        return value
    value = value.reshape((1,) * (rank - value.ndim) + value.shape)
    return value.transpose(np.argsort(perm))


def emit(im: Importer, hint: str, kind: str, onnx_op: str, acts: list[str],
          consts: dict[int, np.ndarray], shape: tuple[int, ...], attributes: dict) -> str:
    """An `OnnxOp` layer with its constant operands as weights."""
    if not acts:
        raise Unsupported(im.source, f"node {hint}", f"{onnx_op} has no activation operand")
    name = im.add(OnnxOp, hint, acts, op=kind, onnx_op=onnx_op,
                  attributes=plain_attributes(attributes),
                  consts=tuple((i, tuple(int(d) for d in v.shape)) for i, v in consts.items()),
                  shape=shape)
    for i, v in consts.items():
        im.weights[f"{name}.c{i}"] = np.asarray(v, dtype=np.float64)
    return name


def plain_attributes(attributes: dict) -> dict:
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
