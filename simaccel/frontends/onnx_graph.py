"""Reading an ONNX file into a graph simaccel can translate: parsed and checked (one clear
error for a file that is not ONNX, is corrupt, or has an opset outside 13 to 21), the
symbolic batch pinned to 1, constant subgraphs folded into initializers and every shape
inferred. Constant subgraphs (Constant, Shape of a known shape, Gather, Concat, Unsqueeze,
Cast, ... on constants) are evaluated here and vanish."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import numpy as np

from simaccel.errors import InputError

MIN_OPSET, MAX_OPSET = 13, 21


def read_graph(path: Path):
    """The ``onnx.ModelProto`` at ``path``, checked, with constants folded and shapes
    inferred."""
    source = str(path)
    try:
        import onnx
    except ImportError:
        raise InputError(source, "", "reading ONNX needs the onnx package: "
                         "pip install 'simaccel[onnx]'") from None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(source, "", f"cannot read: {exc}") from None
    if not raw:
        raise InputError(source, "", "file is empty")
    try:
        proto = onnx.load_model_from_string(raw)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several kinds
        raise InputError(source, "", f"not a valid ONNX file ({type(exc).__name__})") from None
    if not proto.graph.node:
        raise InputError(source, "graph", "not a valid ONNX model: the graph has no nodes")
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if not versions or not MIN_OPSET <= versions[0] <= MAX_OPSET:
        raise InputError(source, "opset_import", f"opset {versions[0] if versions else 'none'}"
                         f": simaccel reads opsets {MIN_OPSET} to {MAX_OPSET}")
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:  # noqa: BLE001 - the checker raises several kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(source, "graph", f"not a valid ONNX model: {first}") from None
    for inp in proto.graph.input:  # pin dynamic dimensions (a symbolic batch) to 1
        for dim in inp.type.tensor_type.shape.dim:
            if dim.dim_value <= 0:
                dim.dim_value = 1
    return fold_constants(proto, source)


def static_shapes(graph) -> dict[str, tuple[int, ...]]:
    """Every tensor whose shape ONNX inference knows in full."""
    shapes = {}
    for info in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = info.type.tensor_type
        dims = tuple(d.dim_value for d in t.shape.dim)
        if t.HasField("shape") and all(d > 0 for d in dims):
            shapes[info.name] = dims
    return shapes


def attrs(node) -> dict:
    """A node's attributes by name, as Python values."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


#: What a node whose attributes, inputs or constants do not hold together raises while it is
#: translated; it becomes an `InputError` naming the node.
_MALFORMED = (KeyError, IndexError, ValueError, TypeError, AttributeError)


def guarded(source: str, node, step: Callable[[], object]):
    """Run one node's ``step``, reporting a malformed node as bad input."""
    try:
        return step()
    except InputError:
        raise
    except _MALFORMED as exc:
        raise InputError(source, f"node {node.name or node.op_type}",
                         f"{node.op_type} node cannot be imported "
                         f"({type(exc).__name__}: {exc})") from None


def constants(graph, source: str) -> dict[str, np.ndarray]:
    """The graph's initializers as arrays; a corrupt one is bad input naming it."""
    from onnx import numpy_helper

    out = {}
    for init in graph.initializer:
        try:
            out[init.name] = numpy_helper.to_array(init)
        except _MALFORMED as exc:
            raise InputError(source, f"initializer {init.name}", f"cannot be read "
                             f"({type(exc).__name__}: {exc})") from None
    return out


def _infer(proto, source: str):
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises several kinds
        raise InputError(source, "graph", f"ONNX shape inference failed: {exc}") from None


def fold_constants(proto, source: str):
    """``proto`` with its constant subgraphs (the Shape → Gather → Concat chains exporters
    write for Reshape targets, Constant nodes) replaced by initializers, and shapes
    inferred. Folding a Shape can make a Reshape's output static, which lets the next
    Shape fold, so inference and folding alternate until nothing more folds."""
    from onnx import numpy_helper

    while True:
        proto = _infer(proto, source)
        graph = proto.graph
        consts = constants(graph, source)
        shapes = static_shapes(graph)
        folded = [node for node in graph.node
                  if guarded(source, node, partial(_fold, consts, shapes, node))]
        if not folded:
            return proto
        done = {id(node) for node in folded}
        kept = [node for node in graph.node if id(node) not in done]
        produced = {out for node in folded for out in node.output}
        wanted = {name for node in kept for name in node.input} | {o.name for o in graph.output}
        del graph.node[:]
        graph.node.extend(kept)
        graph.initializer.extend(numpy_helper.from_array(consts[name], name)
                                 for name in sorted(produced & wanted))


#: Ops evaluated when all their inputs are constants.
FOLDABLE = {"Constant", "Shape", "Gather", "Concat", "Unsqueeze", "Squeeze", "Cast", "Reshape",
            "Mul", "Add", "Sub", "Div", "Slice", "Range", "Identity", "ConstantOfShape"}


# -- constant folding ---------------------------------------------------------------------

def _fold(consts: dict[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]], node) -> bool:
    """Evaluate ``node`` into ``consts`` if every input is known at import time (a Shape
    needs only its input's static shape); True when folded."""
    from onnx import helper, numpy_helper

    if node.op_type not in FOLDABLE:
        return False
    ins = [n for n in node.input if n]
    if node.op_type == "Shape":
        if node.input[0] in consts:
            shape = consts[node.input[0]].shape
        elif node.input[0] in shapes:
            shape = shapes[node.input[0]]
        else:
            return False
        consts[node.output[0]] = np.array(shape, dtype=np.int64)
        return True
    if not all(n in consts for n in ins):
        return False
    a = attrs(node)
    v = [consts[n] for n in ins]
    op = node.op_type
    if op == "Constant":
        if "value" in a:
            out = numpy_helper.to_array(a["value"])
        else:
            key = next(k for k in a if k.startswith("value"))
            out = np.array(a[key])
    elif op == "Gather":
        out = np.take(v[0], v[1].astype(np.int64), axis=int(a.get("axis", 0)))
    elif op == "Concat":
        out = np.concatenate([np.atleast_1d(x) for x in v], axis=int(a["axis"]))
    elif op in ("Unsqueeze", "Squeeze"):
        axes = tuple(int(i) for i in (v[1] if len(v) > 1 else a.get("axes", [])))
        out = np.expand_dims(v[0], axes) if op == "Unsqueeze" else (
            np.squeeze(v[0], axis=axes or None))
    elif op == "Cast":
        out = v[0].astype(helper.tensor_dtype_to_np_dtype(a["to"]))
    elif op == "Reshape":
        target = [d if d != 0 else v[0].shape[i] for i, d in enumerate(v[1].astype(int))]
        out = v[0].reshape(target)
    elif op in ("Mul", "Add", "Sub", "Div"):
        fn = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}[op]
        out = fn(v[0], v[1])
        if np.issubdtype(v[0].dtype, np.integer) and op == "Div":
            out = (v[0] // v[1]).astype(v[0].dtype)
    elif op == "Slice":
        out = _slice(v)
    elif op == "Range":
        out = np.arange(v[0], v[1], v[2])
    elif op == "ConstantOfShape":
        value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1)
        out = np.full(tuple(v[0].astype(int)), value.reshape(-1)[0], dtype=value.dtype)
    else:  # Identity
        out = v[0]
    consts[node.output[0]] = np.asarray(out)
    return True


def _slice(v: list[np.ndarray]) -> np.ndarray:
    data, starts, ends = v[0], v[1], v[2]
    axes = v[3] if len(v) > 3 else np.arange(len(starts))
    steps = v[4] if len(v) > 4 else np.ones(len(starts), dtype=int)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        index[int(axis)] = slice(int(start), int(min(end, np.iinfo(np.int64).max)), int(step))
    return data[tuple(index)]
