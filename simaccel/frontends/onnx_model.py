"""Frontend for ONNX models (what `torch.onnx.export` and tf2onnx write), opsets 13 to 21.

`simaccel.frontends.onnx_graph` reads and checks the file, folds every constant subgraph and
infers every shape; this module declares the model's inputs and walks the graph in order,
translating each node by its kind through the handlers registered in `HANDLERS`
(`onnx_gemm`: the array's ops; `onnx_vector`: elementwise, reductions, data movement;
`onnx_rnn`: recurrent layers unrolled; `onnx_quantized`: Q/DQ and pre-quantized GEMMs) after
the patterns of `onnx_patterns`. A 4-D model input is NCHW (torch) and becomes an NHWC
input, unless every consumer transposes it to NCHW first (tf2onnx from Keras), in which case
it already is NHWC. An unsupported op is listed by type with a count (and, with
``--allow-unknown``, kept as an `Opaque` layer costed by its bytes); the walk goes on past
it so that one error names them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from simaccel import ops_onnx
from simaccel.domain import DType
from simaccel.errors import InputError
from simaccel.frontends.onnx_conv_transpose import conv_transpose
from simaccel.frontends.onnx_gemm import (
    NLC,
    conv,
    einsum,
    gemm,
    matmul,
    pool,
)
from simaccel.frontends.onnx_graph import (
    MALFORMED,
    attrs,
    guarded,
    read_graph,
)
from simaccel.frontends.onnx_patterns import (
    find_gelu,
    layernorm_pattern,
)
from simaccel.frontends.onnx_quantized import qdq, qlinear
from simaccel.frontends.onnx_resize import grid_sample, resize
from simaccel.frontends.onnx_rnn import RNN_OPS
from simaccel.frontends.onnx_select import multi_output
from simaccel.frontends.onnx_tensors import (
    TO_NCHW,
    Importer,
    Tensor,
    Unsupported,
    refuse,
)
from simaccel.frontends.onnx_vector import (
    alias,
    batchnorm,
    binary,
    clip,
    concat,
    gelu,
    global_pool,
    layernorm,
    onnx_op,
    pad,
    reduce,
    reshape_like,
    slice_,
    softmax,
    split,
    transpose,
    unary,
)
from simaccel.model import (
    Model,
    Opaque,
    TensorSpec,
)

HANDLERS: dict[str, Callable] = {
    "Conv": conv, "ConvTranspose": conv_transpose, "Gemm": gemm, "QLinearConv": qlinear,
    "QLinearMatMul": qlinear, "ConvInteger": qlinear, "MatMulInteger": qlinear,
    "MatMul": matmul, "Einsum": einsum, "BatchNormalization": batchnorm,
    "Relu": unary("relu"), "Sigmoid": unary("sigmoid"), "Tanh": unary("tanh"),
    "Gelu": gelu, "Clip": clip, "Softmax": softmax,
    "LayerNormalization": layernorm, "MaxPool": pool("maxpool2d"),
    "AveragePool": pool("avgpool2d"), "GlobalAveragePool": global_pool,
    "Add": binary("add"), "Mul": binary("mul"), "Concat": concat, "Split": split, "Slice": slice_,
    "Pad": pad, "Flatten": reshape_like, "Reshape": reshape_like,
    "Squeeze": reshape_like, "Unsqueeze": reshape_like, "Transpose": transpose,
    "Identity": alias, "Dropout": alias, "QuantizeLinear": qdq, "DequantizeLinear": qdq,
    "TopK": multi_output, "Resize": resize, "GridSample": grid_sample,
    **{op: reduce for op, d in ops_onnx.REDUCE.items() if op.startswith("Reduce")},
}


#: Ops that only compute constants and shapes: folded at import, never "unsupported".
SHAPE_OPS = {"Shape", "Size", "Constant", "ConstantOfShape", "Range"}


def supported(op_type: str) -> bool:
    """Whether the frontend translates ``op_type`` (an ONNX standard-domain op)."""
    return op_type in HANDLERS or op_type in ops_onnx.OPS or op_type in RNN_OPS


def _opaque(im: Importer, node) -> None:
    """An unsupported op (``--allow-unknown``): costed by the bytes it reads and writes."""
    ins = [im.tensors[n] for n in node.input if n in im.tensors]
    if not ins:  # computed from constants alone: ordered after the first model input
        ins = [im.tensors[im.inputs[0].name]] if im.inputs else []
    if not ins:
        raise refuse(im, node, f"{node.op_type} has no activation input")
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


def _walk(im: Importer, graph) -> None:
    """Translate every node. Without ``allow_unknown`` the walk still goes on past an
    unsupported op (a stand-in carries its outputs) so that the error lists every one."""
    for node in graph.node:
        if node.op_type in ("Erf", "Tanh"):
            find_gelu(im, node)
    downstream: set[str] = set()  # tensors computed from an unsupported op's output
    for node in graph.node:
        im.node = node.name or node.output[0]
        guarded(im.source, node, partial(_translate, im, node, downstream))


def _translate(im: Importer, node, downstream: set[str]) -> None:
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
    if layernorm_pattern(im, node):
        return
    why = ""
    if supported(node.op_type) and node.domain in ("", "ai.onnx"):
        handler = HANDLERS.get(node.op_type) or RNN_OPS.get(node.op_type) or onnx_op
        try:
            handler(im, node)
            return
        except InputError as exc:
            if not (im.allow_unknown or isinstance(exc, Unsupported)):
                if im.unknown:  # most likely a consequence: the refusal names the cause
                    downstream.update(node.output)
                    return
                raise
            why = exc.message
        except MALFORMED as exc:
            if not im.allow_unknown:
                raise
            why = f"{type(exc).__name__}: {exc}"
    im.unknown.append((node.op_type, node.name or node.output[0], why))
    if im.allow_unknown:
        _opaque(im, node)
        return
    try:  # stand-in so that what follows is still tried (and its refusals counted)
        _opaque(im, node)
    except (InputError, *MALFORMED):
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
        detail = f"{why[:80]}; e.g. {where[:40]}" if why else f"e.g. {where[:40]}"
        parts.append(f"{op} ×{n} ({detail})")
    text = ", ".join(parts)
    if len(text) > limit:
        text = ", ".join(f"{op} ×{n}" for op, n in counts.most_common())
        if len(text) > limit:
            text = text[:limit].rsplit(",", 1)[0] + ", ..."
    return f"unsupported ONNX ops ({sum(counts.values())} in {len(counts)} types): {text}"


def _model_inputs(im: Importer, graph) -> list[tuple[str, str, tuple[int, ...] | None]]:
    """Declare the model's inputs: a 4-D NCHW image input (torch) becomes NHWC (a 1-D signal
    [N, C, L] read by convs becomes [N, L, C]); a 4-D input that every consumer transposes
    (or, with one channel, reshapes) to NCHW first (tf2onnx from Keras) already is NHWC.
    Integer inputs (token ids, masks) are int32."""
    from onnx import TensorProto

    declared = []
    for inp in graph.input:
        if inp.name in im.consts:
            continue
        shape = im.shape(inp.name, inp)
        users = im.consumers.get(inp.name, [])
        keras = bool(users) and all(_to_nchw(im, u, shape) for u in users)
        nchw = len(shape) == 4 and not keras
        # a 1-D signal [N, C, L] read by convs and pools: held [N, L, C]
        nlc = len(shape) == 3 and bool(users) and all(
            u.op_type in ("Conv", "MaxPool", "AveragePool") for u in users)
        ours = (shape[0], shape[2], shape[3], shape[1]) if nchw else (
            (shape[0], shape[2], shape[1]) if nlc else shape)
        name = im.unique(inp.name)
        integer = inp.type.tensor_type.elem_type not in (
            TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16)
        try:
            spec = TensorSpec(name=name, shape=ours, dtype=DType.INT32 if integer else DType.FP32)
        except ValidationError as exc:  # a --dim (or a declared size) beyond the bounds
            reason = exc.errors()[0]["msg"]
            raise InputError(im.source, f"input {inp.name!r}",
                             f"shape {list(ours)}: {reason} (set symbolic sizes with --dim)"
                             ) from None
        im.inputs.append(spec)
        im.tensors[inp.name] = Tensor(name, shape, TO_NCHW if nchw else (NLC if nlc else None))
        if keras:  # the one-channel Reshape is the NHWC → NCHW transpose
            for u in users:
                if u.op_type == "Reshape":
                    im.tensors[u.output[0]] = Tensor(name, im.shape(u.output[0], u), TO_NCHW)
                    im.skip.add(id(u))
        declared.append((inp.name, name, (0, 2, 3, 1) if nchw else (NLC if nlc else None)))
    return declared


def _to_nchw(im: Importer, node, shape: tuple[int, ...]) -> bool:
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


def _output(im: Importer, t: Tensor, onnx_name: str) -> tuple[str, tuple[int, ...] | None]:
    """A model output: in ONNX element order, except that NCHW maps stay NHWC (and 1-D maps
    [N, L, C]); and the axes that turn it into the ONNX tensor."""
    if t.perm is None:
        return t.name, None
    if t.nhwc or t.perm == NLC:  # feature maps stay channels-last
        return t.name, t.perm
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
    im = Importer(proto.graph, source, allow_unknown)
    declared = _model_inputs(im, proto.graph)
    _walk(im, proto.graph)
    if im.unknown and not allow_unknown:
        raise InputError(source, "graph", _unsupported_message(im.unknown)
                         + "; --allow-unknown costs them by the bytes they move")
    outputs = [(o.name, *_output(im, im.tensors[o.name], o.name))
               for o in proto.graph.output if o.name in im.tensors]  # constants fold away
    if not outputs:
        raise InputError(source, "graph.output", "every output is a constant; there is "
                         "nothing to simulate")
    kinds = Counter(op for op, _, _ in im.unknown)
    note = f"; costed by bytes: {', '.join(f'{k} ×{n}' for k, n in kinds.items())}" \
        if im.unknown else ""
    return Model(name=proto.graph.name or path.stem, inputs=tuple(im.inputs),
                 layers=tuple(im.layers), outputs=tuple(name for _, name, _ in outputs),
                 source=source, description=f"imported from ONNX {path.name}{note}",
                 weights=im.weights, onnx_inputs=tuple(declared),
                 onnx_outputs=tuple(outputs), dims=given, onnx_nodes=im.origin)

