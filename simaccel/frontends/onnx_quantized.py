"""Quantized ONNX: QuantizeLinear / DequantizeLinear of activations (elementwise; of
weights they fold at import) and the pre-quantized GEMMs (QLinearConv, QLinearMatMul,
ConvInteger, MatMulInteger) as dequantize, a GEMM by the dequantized constant weights, and
quantize."""

from __future__ import annotations

import numpy as np

from simaccel.frontends.onnx_gemm import conv_layer
from simaccel.frontends.onnx_graph import attrs
from simaccel.frontends.onnx_tensors import Importer, Tensor, refuse
from simaccel.frontends.onnx_vector import onnx_op, pointwise
from simaccel.model import Dense


def qdq(im: Importer, node) -> None:
    """QuantizeLinear / DequantizeLinear (of activations; of weights they fold): a
    per-axis scale and zero point laid along their axis, then elementwise."""
    from onnx import helper

    a = attrs(node)
    if a.get("block_size", 0):
        raise refuse(im, node, f"blocked {node.op_type} is not supported")
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
            raise refuse(im, node, f"QuantizeLinear to {kind} is not supported")
    onnx_op(im, node, consts, **extra)


def _per_channel(value: np.ndarray, rank: int) -> np.ndarray:
    """A scale or zero point, scalar or per output channel, broadcast along axis 0."""
    return np.asarray(value, dtype=np.float64).reshape((-1,) + (1,) * (rank - 1))


def qlinear(im: Importer, node) -> None:
    """QLinearConv, QLinearMatMul, ConvInteger and MatMulInteger as they compute: the input
    dequantized (its zero point subtracted, scaled), the GEMM by the dequantized constant
    weights (torch's and the graph's MAC count), the output quantized again (QLinear*)."""
    op = node.op_type
    ins = list(node.input) + [""] * 9
    if op in ("QLinearConv", "QLinearMatMul"):
        x, xs, xz, w, ws, wz, ys, yz = ins[:8]
        bias = ins[8] if op == "QLinearConv" else ""
    else:
        x, w, xz, wz = ins[:4]
        xs = ws = ys = yz = bias = ""
    weight = im.const(w)
    if weight is None or any(n and im.const(n) is None for n in (xs, xz, ws, wz, ys, yz, bias)):
        raise refuse(im, node, f"{op} needs constant weights, scales and zero points")
    one = np.ones(())
    x_scale = im.const(xs) if xs else one
    w_scale = im.const(ws) if ws else one
    hint = node.name or node.output[0]
    deq = f"{node.output[0]}/dequantized"
    pointwise(im, node, "DequantizeLinear", [x, x_scale.astype(np.float64),
                                             (im.const(xz) if xz else np.zeros(()))
                                             .astype(np.float64)], f"{hint}/dequantize",
              out=deq)
    conv_like = op in ("QLinearConv", "ConvInteger")
    rank = weight.ndim
    if conv_like:
        real = (weight - _per_channel(im.const(wz) if wz else 0, rank)) * _per_channel(
            w_scale, rank)
    else:  # [K, N]: per column
        real = (weight - np.asarray(im.const(wz) if wz else 0, dtype=np.float64)) * \
            np.asarray(w_scale, dtype=np.float64)
    real_bias = None if not bias else im.const(bias) * np.asarray(
        x_scale * w_scale, dtype=np.float64).reshape(-1)
    out = f"{node.output[0]}/real" if ys else node.output[0]
    if conv_like:
        conv_layer(im, node, im.get(deq, node), real, real_bias, out)
    else:
        t = im.nchw(im.get(deq, node), node.name)
        if real.ndim != 2:
            raise refuse(im, node, f"{op} by a constant of rank > 2 is not supported")
        name = im.add(Dense, hint, [t.name], op="dense", units=int(real.shape[1]),
                      bias=False)
        im.weights[f"{name}.kernel"] = real
        im.tensors[out] = Tensor(name, im.shape(node.output[0], node))
    if ys:
        zero = im.const(yz) if yz else np.zeros((), dtype=np.uint8)
        pointwise(im, node, "QuantizeLinear", [out, im.const(ys).astype(np.float64),
                                               zero.astype(np.float64)], f"{hint}/quantize",
                  zero_point_type=str(zero.dtype))
