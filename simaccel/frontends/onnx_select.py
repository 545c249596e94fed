"""ONNX ops with more than one output computed from the same operands (TopK): one `OnnxOp`
layer per output the graph uses, each reading the op's inputs and computing its own output
(``output_index``), in ONNX element order."""

from __future__ import annotations

from simaccel import ops_onnx
from simaccel.frontends.onnx_graph import attrs
from simaccel.frontends.onnx_tensors import Importer, Tensor, emit


def multi_output(im: Importer, node) -> None:
    """Every used output of ``node`` as its own layer (``output_index`` its position); a
    constant operand (TopK's K) is a weight of each. Raises Unsupported (through
    ``Importer.get``) for an input simaccel cannot compute."""
    kind = ops_onnx.OPS[node.op_type].kind
    acts = [im.nchw(im.get(n, node), node.name) for n in node.input if n and
            n not in im.consts]
    consts = {i: im.consts[n] for i, n in enumerate(node.input) if n in im.consts}
    for index, out in enumerate(node.output):
        if not out:
            continue
        shape = im.shape(out, node)
        name = emit(im, f"{node.name or node.output[0]}/{index}", kind, node.op_type,
                    [t.name for t in acts], consts, shape,
                    {**attrs(node), "output_index": index})
        im.tensors[out] = Tensor(name, shape)
