"""Reading an ONNX file into a graph simaccel can translate: parsed and checked (one clear
error for a file that is not ONNX, is corrupt, or has an opset outside 13 to 21), external
data read from beside the model, symbolic dimensions set (``--dim``, default 1), constant
subgraphs folded into initializers and every shape inferred. Any node whose inputs are all
known at import time (Constant, Shape of a static shape, and whatever computes on them) is
evaluated by onnx's reference evaluator here and vanishes."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from simaccel.errors import InputError

MIN_OPSET, MAX_OPSET = 13, 21


def read_graph(path: Path, dims: Mapping[str, int] | None = None):
    """The ``onnx.ModelProto`` at ``path``, checked, with its external data read (relative to
    the model file), symbolic dimensions set (``dims`` by name, else 1), constants folded
    and shapes inferred; and the value given to each symbolic dimension."""
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
    _external_data(proto, path)
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:  # noqa: BLE001 - the checker raises several kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(source, "graph", f"not a valid ONNX model: {first[:300]}") from None
    given = _set_dims(proto, source, dict(dims or {}))
    return fold_constants(proto, source), given


def _external_data(proto, path: Path) -> None:
    """Read initializers stored in external files, relative to the model's folder."""
    from onnx import external_data_helper

    for tensor in external_data_helper._get_all_tensors(proto):
        if not external_data_helper.uses_external_data(tensor):
            continue
        info = {e.key: e.value for e in tensor.external_data}
        where = path.parent / info.get("location", "")
        if not where.is_file():
            raise InputError(str(path), f"initializer {tensor.name}", f"external data file "
                             f"{info.get('location', '')!r} not found beside the model "
                             f"({where})")
        try:
            external_data_helper.load_external_data_for_tensor(tensor, str(path.parent))
        except Exception as exc:  # noqa: BLE001 - a short or unreadable file
            raise InputError(str(path), f"initializer {tensor.name}", f"cannot read its "
                             f"external data ({type(exc).__name__}: {exc})") from None
        tensor.data_location = 0  # onnx.TensorProto.DEFAULT
        del tensor.external_data[:]


def _set_dims(proto, source: str, dims: dict[str, int]) -> dict[str, int]:
    """Give every symbolic input dimension its value (``dims``, else 1); refuse explicit
    zero dimensions and ``dims`` the model does not have. Returns the values given."""
    given: dict[str, int] = {}
    for inp in proto.graph.input:
        for i, dim in enumerate(inp.type.tensor_type.shape.dim):
            kind = dim.WhichOneof("value")
            if kind == "dim_value" and dim.dim_value <= 0:
                raise InputError(source, f"graph.input[{inp.name}].shape[{i}]",
                                 f"dimension {dim.dim_value}: an empty tensor has nothing "
                                 "to simulate")
            if kind == "dim_value":
                continue
            name = dim.dim_param if kind == "dim_param" else f"{inp.name}[{i}]"
            value = dims.get(name, 1)
            given[name] = value
            dim.dim_value = value
    unknown = sorted(set(dims) - set(given))
    if unknown:
        raise InputError("--dim", unknown[0], "the model has no symbolic dimension of that "
                         "name" + (f" (it has: {', '.join(sorted(given))})" if given else
                                   " (it has none)"))
    return given


def static_shapes(graph) -> dict[str, tuple[int, ...]]:
    """Every tensor whose shape ONNX inference knows in full."""
    shapes = {}
    for info in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = info.type.tensor_type
        dims = tuple(d.dim_value for d in t.shape.dim)
        if t.HasField("shape") and all(d > 0 for d in dims):
            shapes[info.name] = dims
    return shapes


def empty_tensors(graph) -> dict[str, np.ndarray]:
    """Every tensor whose inferred shape is complete and has a 0 dimension, as its value:
    an empty array of its dtype (Phi-3's rotary splits a head into the rotated part and an
    empty rest, concatenated back). Its value does not depend on the input data."""
    from onnx import helper

    empty = {}
    for info in list(graph.value_info) + list(graph.output):
        t = info.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)
        if t.HasField("shape") and 0 in dims and min(dims) == 0:
            dtype = helper.tensor_dtype_to_np_dtype(t.elem_type)
            empty[info.name] = np.zeros(dims, dtype=dtype)
    return empty


def _empty(node, consts: Mapping[str, np.ndarray]) -> bool:
    """Whether every output of ``node`` is an empty tensor (`empty_tensors`, already in
    ``consts``): the node then folds away like a constant one."""
    if node.domain not in ("", "ai.onnx") or node.op_type in NOT_FOLDED:
        return False
    outputs = [o for o in node.output if o]
    return bool(outputs) and all(o in consts and consts[o].size == 0 for o in outputs)


def attrs(node) -> dict:
    """A node's attributes by name, as Python values."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


#: What a node whose attributes, inputs or constants do not hold together raises while it is
#: translated; it becomes an `InputError` naming the node.
MALFORMED = (KeyError, IndexError, ValueError, TypeError, AttributeError)


def guarded(source: str, node, step: Callable[[], object]):
    """Run one node's ``step``, reporting a malformed node as bad input."""
    try:
        return step()
    except InputError:
        raise
    except MALFORMED as exc:
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
        except MALFORMED as exc:
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
    """``proto`` with every constant subgraph (Constant nodes, the Shape → Gather → Concat
    chains exporters write for Reshape targets, constant Expand, Transpose, Sqrt of a shape,
    ...) evaluated by onnx's reference evaluator into initializers, and shapes inferred.
    Folding a Shape can make a Reshape's output static, which lets the next Shape fold, so
    inference and folding alternate until nothing more folds."""
    from onnx import numpy_helper

    while True:
        del proto.graph.value_info[:]  # stale partial shapes would stop inference refining
        proto = _infer(proto, source)
        graph = proto.graph
        consts = constants(graph, source)
        shapes = static_shapes(graph)
        opsets = list(proto.opset_import)
        consts.update(empty_tensors(graph))
        folded = [node for node in graph.node if _fold(consts, shapes, node, opsets)
                  or _empty(node, consts)]
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


#: Ops never folded even with constant inputs: random draws and control flow.
NOT_FOLDED = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
              "Multinomial", "Bernoulli", "If", "Loop", "Scan", "SequenceConstruct"}
#: A folded constant larger than this stays a computation (elements).
MAX_FOLDED_ELEMENTS = 1 << 25


def foldable(node, consts: Mapping[str, np.ndarray], shapes: Mapping) -> bool:
    """Whether ``node`` is computed from constants alone (a Shape or Size needs only its
    input's static shape)."""
    if node.domain not in ("", "ai.onnx") or node.op_type in NOT_FOLDED:
        return False
    if node.op_type in ("Shape", "Size"):
        return node.input[0] in consts or node.input[0] in shapes
    return all(n in consts for n in node.input if n)


def _fold(consts: dict[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]], node,
          opsets) -> bool:
    """Evaluate ``node`` into ``consts`` if every input is known at import time; True when
    folded. A node the evaluator cannot run stays in the graph: the file is not blamed."""
    if not foldable(node, consts, shapes):
        return False
    if node.op_type in ("Shape", "Size"):
        shape = consts[node.input[0]].shape if node.input[0] in consts else \
            shapes[node.input[0]]
        a = attrs(node)
        if node.op_type == "Size":
            consts[node.output[0]] = np.array(int(np.prod(shape)), dtype=np.int64)
        else:
            start, end = a.get("start", 0), a.get("end", len(shape))
            consts[node.output[0]] = np.array(shape[start:end], dtype=np.int64)
        return True
    try:
        values = _evaluate(node, {n: consts[n] for n in node.input if n}, opsets)
    except Exception:  # noqa: BLE001 - whatever the evaluator cannot do stays an op
        values = _move(node, consts)
        if values is None:
            return False
    if any(np.size(v) > MAX_FOLDED_ELEMENTS for v in values):
        return False
    for name, value in zip(node.output, values, strict=False):
        if name:
            consts[name] = np.asarray(value)
    return True


def _move(node, consts: Mapping[str, np.ndarray]) -> list[np.ndarray] | None:
    """A data-movement node the reference evaluator fails on (its GatherElements does not
    broadcast), by simaccel's own meaning of it, in its data's dtype."""
    from simaccel import ops_onnx

    op = ops_onnx.OPS.get(node.op_type)
    if op is None or op.kind != "move" or len(node.output) != 1:
        return None
    data = consts[node.input[0]]
    try:
        out = ops_onnx.run(node.op_type, [consts[n] if n else None for n in node.input],
                           {k: v.decode() if isinstance(v, bytes) else v
                            for k, v in attrs(node).items()})
    except Exception:  # noqa: BLE001 - then it stays an op
        return None
    return [out.astype(data.dtype)]


def _evaluate(node, feeds: dict[str, np.ndarray], opsets) -> list[np.ndarray]:
    """One node run by ``onnx.reference.ReferenceEvaluator`` (dtypes as ONNX defines)."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(v.dtype),
                                            v.shape) for name, v in feeds.items()]
    outputs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
    graph = helper.make_graph([node], "fold", inputs, outputs)
    model = helper.make_model(graph, opset_imports=opsets)
    with np.errstate(all="ignore"), warnings.catch_warnings():  # log(0) is -inf, as meant
        warnings.simplefilter("ignore")
        return ReferenceEvaluator(model).run(None, feeds)
