"""ONNX MatMul with a 1-D operand, as ONNX (and ``numpy.matmul``) define it: a 1-D first
operand [K] is promoted to a row [1, K], a 1-D second operand [K] to a column [K, 1], the
product of the promoted operands is taken, and the axis added by the promotion is removed
from the result (ONNX operator spec, MatMul: "Matrix product that behaves like
numpy.matmul"). The promotions and the removal are free reshapes around the matrix
product the 2-D MatMul handler emits."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simaccel.frontends.onnx_tensors import Importer, Tensor, refuse
from simaccel.model import Reshape


def promote_vectors(im: Importer, node, matmul: Callable[[Importer, object], None]) -> bool:
    """Translate MatMul ``node`` when an operand is 1-D (a row [1, K] on the left, a column
    [K, 1] on the right) through ``matmul``, the handler of operands of rank ≥ 2; False
    (nothing done) when neither is. Raises `Unsupported` naming the node when both are 1-D:
    their product is a rank-0 scalar, which simaccel holds no tensor of."""
    from onnx import helper

    left, right = (_rank(im, node, name) for name in node.input[:2])
    if left != 1 and right != 1:
        return False
    if left == 1 and right == 1:
        raise refuse(im, node, "MatMul of two 1-D operands (a dot product, a rank-0 "
                     "scalar) is not supported")
    hint = node.name or node.output[0]
    a = _promoted(im, node, node.input[0], 0, f"{hint}/as_row") if left == 1 else \
        node.input[0]
    b = _promoted(im, node, node.input[1], 1, f"{hint}/as_column") if right == 1 else \
        node.input[1]
    out = node.output[0]
    shape = im.shape(out, node)
    product = f"{out}/promoted"
    im.shapes[product] = shape[:-1] + (1,) + shape[-1:] if left == 1 else shape + (1,)
    matmul(im, helper.make_node("MatMul", [a, b], [product], name=node.name))
    held = im.nchw(im.get(product, node), hint)
    name = im.add(Reshape, f"{hint}/squeeze", [held.name], op="reshape", shape=shape)
    im.tensors[out] = Tensor(name, shape)
    return True


def _rank(im: Importer, node, onnx_name: str) -> int:
    value = im.const(onnx_name)
    return value.ndim if value is not None else len(im.get(onnx_name, node).shape)


def _promoted(im: Importer, node, onnx_name: str, axis: int, hint: str) -> str:
    """The 1-D operand ``onnx_name`` [K] with an axis of 1 inserted at ``axis`` (0: a row
    [1, K], 1: a column [K, 1]), under a new ONNX name: a reshaped constant, or a reshape
    layer of the activation."""
    promoted = f"{onnx_name}/{'row' if axis == 0 else 'column'}"
    value = im.const(onnx_name)
    if value is not None:
        im.consts[promoted] = np.expand_dims(value, axis)
        return promoted
    t = im.nchw(im.get(onnx_name, node), hint)
    shape = (1, t.shape[0]) if axis == 0 else (t.shape[0], 1)
    im.tensors[promoted] = Tensor(im.add(Reshape, hint, [t.name], op="reshape",
                                         shape=shape), shape)
    im.shapes[promoted] = shape
    return promoted
