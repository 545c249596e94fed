"""ONNX ops by kind (elementwise with constants and broadcasting, reductions, data movement,
RNNs), attribute defaults as the spec states them, and the command line around ONNX files
(--input, --dim, compare, --allow-unknown, refusals), each against onnxruntime or a count
taken from the graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import simaccel
from simaccel.cli import main
from simaccel.compare import compare, onnx_feeds
from simaccel.errors import InputError
from simaccel.ops_onnx import OPS
from tests.onnx_builders import GraphBuilder, onnx_macs

pytest.importorskip("onnxruntime")
HW = simaccel.load_hardware("scalesim_default")


def check_against_onnxruntime(proto, tmp_path: Path, name: str = "m.onnx") -> Path:
    """Import ``proto`` and compare simaccel's fp32 run with onnxruntime (rtol 1e-4 of each
    output's largest magnitude) and its MACs with the graph's own count."""
    path = tmp_path / name
    onnx.save(proto, path)
    model = simaccel.load_model(path)
    rows, report = compare(path, model, HW, {}, {})
    for row in rows:
        assert row.max_abs_diff <= 1e-4 * row.max_abs_reference + 1e-6, row
    assert report.to_dict()["total"]["macs"] == onnx_macs(proto)
    assert all(c.status == "pass" for c in report.numerics.checks)
    return path


def test_elementwise_ops_with_constants_and_broadcasting(tmp_path: Path) -> None:
    """Unary and binary ops, constants on either side, per-channel and scalar operands, a
    comparison feeding a Where, on a conv's NCHW output (held NHWC: constants follow)."""
    b = GraphBuilder(seed=3)
    c = b.op("Conv", ["x", b.weight((4, 3, 3, 3))], "conv", kernel_shape=[3, 3])  # [1,4,6,6]
    per_channel = b.const(np.array([0.5, -1.0, 2.0, 1.5]).reshape(4, 1, 1), "scale")
    y = b.op("Mul", [per_channel, c], "scale")
    y = b.op("Sub", [b.const(1.0, "one"), y], "one_minus")
    y = b.op("Div", [y, b.const(np.array([2.0, 3.0, 4.0, 5.0]).reshape(4, 1, 1))], "div")
    s = b.op("Abs", [y], "abs")
    s = b.op("Sqrt", [b.op("Add", [s, b.const(1.0)], "plus")], "sqrt")
    e = b.op("Exp", [b.op("Neg", [s], "neg")], "exp")
    g = b.op("Greater", [y, b.const(0.0)], "positive")
    w = b.op("Where", [g, e, b.op("LeakyRelu", [y], "leaky", alpha=0.2)], "where")
    h = b.op("HardSigmoid", [w], "hsig", alpha=0.3, beta=0.4)
    p = b.op("Pow", [b.op("Clip", [h, b.const(0.1), b.const(0.9)], "clip"), b.const(2.0)],
             "pow")
    out = b.op("Erf", [b.op("Log", [b.op("Add", [p, b.const(1.0)], "plus1")], "log")], "erf")
    check_against_onnxruntime(b.model([("x", [1, 3, 8, 8])], [out], 17), tmp_path)


GELU_ORDERS = {
    "div_then_half_last": lambda b, x, e: b.op("Mul", [b.op("Mul", [x, e], "m"),
                                                       b.const(0.5)], "h"),
    "half_first": lambda b, x, e: b.op("Mul", [b.op("Mul", [b.const(0.5), x], "h"), e], "m"),
    "half_on_erf": lambda b, x, e: b.op("Mul", [x, b.op("Mul", [e, b.const(0.5)], "h")], "m"),
}


@pytest.mark.parametrize("order", sorted(GELU_ORDERS))
@pytest.mark.parametrize("by", ["Div", "Mul"])
def test_gelu_in_any_order_is_one_layer(order: str, by: str, tmp_path: Path) -> None:
    b = GraphBuilder(seed=19)
    x = b.op("MatMul", ["x", b.weight((6, 8))], "fc")
    scaled = b.op(by, [x, b.const(2**0.5 if by == "Div" else 2**-0.5)], "scale")
    e = b.op("Add", [b.op("Erf", [scaled], "erf"), b.const(1.0)], "plus1")
    y = b.op("MatMul", [GELU_ORDERS[order](b, x, e), b.weight((8, 3))], "fc2")
    path = check_against_onnxruntime(b.model([("x", [2, 6])], [y], 17), tmp_path)
    assert [layer.op for layer in simaccel.load_model(path).layers] == ["dense", "gelu",
                                                                        "dense"]


@pytest.mark.parametrize("cube", ["pow", "products"])
def test_tanh_gelu_is_one_layer(cube: str, tmp_path: Path) -> None:
    """GPT-2's gelu_new, x·½·(1 + tanh(√(2/π)·(x + 0.044715·x³))), x³ a Pow or x·x·x."""
    b = GraphBuilder(seed=20)
    x = b.op("MatMul", ["x", b.weight((6, 8))], "fc")
    x3 = b.op("Pow", [x, b.const(3.0)], "cube") if cube == "pow" else b.op(
        "Mul", [x, b.op("Mul", [x, x], "square")], "cube")
    inner = b.op("Add", [x, b.op("Mul", [b.const(0.044715), x3], "c")], "inner")
    t = b.op("Tanh", [b.op("Mul", [inner, b.const((2 / np.pi) ** 0.5)], "k")], "tanh")
    y = b.op("Mul", [b.op("Mul", [b.const(0.5), x], "h"),
                     b.op("Add", [b.const(1.0), t], "plus1")], "gelu")
    y = b.op("MatMul", [y, b.weight((8, 3))], "fc2")
    path = check_against_onnxruntime(b.model([("x", [2, 6])], [y], 17), tmp_path)
    assert [layer.op for layer in simaccel.load_model(path).layers] == ["dense", "gelu_tanh",
                                                                        "dense"]


def test_reductions_and_data_movement(tmp_path: Path) -> None:
    b = GraphBuilder(seed=4)
    x = b.op("Relu", ["x"], "relu")                                                # [1,4,6,8]
    s = b.op("Slice", [x, b.const([1, 0], dtype=np.int64), b.const([5, 8], dtype=np.int64),
                       b.const([2, 3], dtype=np.int64), b.const([1, 2], dtype=np.int64)],
             "slice")                                                              # [1,4,4,4]
    g = b.op("Gather", [s, b.const([3, 0, 2], dtype=np.int64)], "gather", axis=1)  # [1,3,4,4]
    p = b.op("Pad", [g, b.const([0, 0, 1, 2, 0, 0, 2, 1], dtype=np.int64)], "pad",
             mode="reflect")                                                       # [1,3,7,7]
    r = b.op("Resize", [p, "", b.const([1.0, 1.0, 2.0, 2.0])], "up", mode="linear")
    m = b.op("ReduceMax", [r, b.const([1], dtype=np.int64)], "rmax", keepdims=1)
    t = b.op("Tile", [m, b.const([1, 2, 1, 1], dtype=np.int64)], "tile")        # [1,2,14,14]
    d = b.op("SpaceToDepth", [t], "s2d", blocksize=2)                              # [1,8,7,7]
    c = b.op("CumSum", [d, b.const(1, dtype=np.int64)], "cumsum")
    rs = b.op("ReduceSum", [c, b.const([2, 3], dtype=np.int64)], "rsum", keepdims=0)
    e = b.op("Expand", [b.op("Unsqueeze", [rs, b.const([1], dtype=np.int64)], "unsq"),
                        b.const([1, 3, 8], dtype=np.int64)], "expand")            # [1,3,8]
    out = b.op("Softmax", [e], "softmax", axis=1)
    check_against_onnxruntime(b.model([("x", [1, 4, 6, 8])], [out], 18), tmp_path)


def test_quantize_dequantize_pairs(tmp_path: Path) -> None:
    """A pre-quantized model's pattern: int8 weights dequantized (folded), activations
    quantized per tensor and per channel and dequantized again (elementwise)."""
    b = GraphBuilder(seed=9)
    w = b.const(b.rng.integers(-100, 100, (4, 3, 3, 3)), "w_int8", dtype=np.int8)
    w = b.op("DequantizeLinear", [w, b.const([0.01, 0.02, 0.015, 0.03]),
                                  b.const([0, 0, 0, 0], dtype=np.int8)], "w_dq", axis=0)
    q = b.op("QuantizeLinear", ["x", b.const(0.05), b.const(3, dtype=np.uint8)], "x_q")
    x = b.op("DequantizeLinear", [q, b.const(0.05), b.const(3, dtype=np.uint8)], "x_dq")
    c = b.op("Conv", [x, w], "conv", kernel_shape=[3, 3])
    scale = b.const([0.02, 0.04, 0.03, 0.05])
    zero = b.const([0, 1, -1, 2], dtype=np.int8)
    y = b.op("QuantizeLinear", [c, scale, zero], "y_q", axis=1)
    y = b.op("DequantizeLinear", [y, scale, zero], "y_dq", axis=1)
    check_against_onnxruntime(b.model([("x", [1, 3, 7, 7])], [y], 19), tmp_path)


def test_prequantized_gemms(tmp_path: Path) -> None:
    """QLinearConv (per-channel int8 weights, int32 bias), QLinearMatMul and MatMulInteger:
    the graph's MACs, outputs within one quantization step of onnxruntime's (it rounds the
    rescaled int32 sums; simaccel dequantizes first)."""
    b = GraphBuilder(seed=12)
    rng = b.rng
    q = b.op("QuantizeLinear", ["x", b.const(0.05), b.const(128, dtype=np.uint8)], "x_q")
    w = b.const(rng.integers(-60, 60, (4, 3, 3, 3)), "w", dtype=np.int8)
    conv = b.op("QLinearConv", [q, b.const(0.05), b.const(128, dtype=np.uint8), w,
                                b.const([0.01, 0.02, 0.015, 0.012]),
                                b.const([0, 0, 0, 0], dtype=np.int8), b.const(0.1),
                                b.const(120, dtype=np.uint8),
                                b.const(rng.integers(-200, 200, 4), dtype=np.int32)],
                "qconv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])               # [1,4,6,6]
    flat = b.op("Reshape", [conv, b.const([1, 144], dtype=np.int64)], "flat")
    mm = b.op("QLinearMatMul", [flat, b.const(0.1), b.const(120, dtype=np.uint8),
                                b.const(rng.integers(0, 255, (144, 5)), dtype=np.uint8),
                                b.const(0.004), b.const(127, dtype=np.uint8), b.const(0.2),
                                b.const(100, dtype=np.uint8)], "qmatmul")     # [1, 5] u8
    ints = b.op("MatMulInteger", [mm, b.const(rng.integers(-9, 9, (5, 3)), dtype=np.int8),
                                  b.const(100, dtype=np.uint8)], "mmint")     # [1, 3] i32
    out = b.op("Cast", [ints], "to_float", to=TensorProto.FLOAT)
    feature = b.op("DequantizeLinear", [conv, b.const(0.1), b.const(120, dtype=np.uint8)],
                   "conv_real")
    proto = b.model([("x", [1, 3, 6, 6])], [out, feature], 17)
    path = tmp_path / "q.onnx"
    onnx.save(proto, path)
    model = simaccel.load_model(path)
    rows, report = compare(path, model, HW, {}, {})
    # one step of the rounded output; for the int32 sums one step of each of the K = 5 u8
    # inputs times |B| ≤ 9
    steps = {out: 9 * 5, feature: 0.1}
    for row in rows:
        assert row.max_abs_diff <= steps[row.name] * (1 + 1e-6), row
    assert report.to_dict()["total"]["macs"] == 4 * 36 * 27 + 144 * 5 + 5 * 3 == onnx_macs(
        proto)


def test_gathers_with_computed_and_constant_indices(tmp_path: Path) -> None:
    """GatherND (batch_dims 0 and 1) and GatherElements, Where over a comparison mask."""
    b = GraphBuilder(seed=13)
    x = b.op("Relu", ["x"], "relu")                                                # [2,4,3]
    g = b.op("GatherND", [x, b.const([[1, 2], [0, 3]], dtype=np.int64)], "gnd")   # [2, 3]
    h = b.op("GatherND", [x, b.const([[1], [3]], dtype=np.int64)], "gnd_b", batch_dims=1)
    e = b.op("GatherElements", [g, b.const([[2, 0, 1], [0, 0, 2]], dtype=np.int64)], "ge",
             axis=1)
    m = b.op("Where", [b.op("Less", [e, h], "less"), e, h], "min")
    check_against_onnxruntime(b.model([("x", [2, 4, 3])], [m], 17), tmp_path)


@pytest.mark.parametrize("op, direction", [("LSTM", "bidirectional"), ("GRU", "forward"),
                                           ("RNN", "reverse")])
def test_recurrent_layers_unrolled(op: str, direction: str, tmp_path: Path) -> None:
    """Every output, an initial state from the graph's input, GRU's linear_before_reset=0."""
    b = GraphBuilder(seed=5)
    gates, hidden, dirs = {"LSTM": 4, "GRU": 3, "RNN": 1}[op], 5, 2 if direction == \
        "bidirectional" else 1
    w = b.weight((dirs, gates * hidden, 6), scale=0.5)
    r = b.weight((dirs, gates * hidden, hidden), scale=0.5)
    bias = b.weight((dirs, 2 * gates * hidden), scale=0.2)
    h0 = b.op("Tanh", [b.op("Slice", ["x", b.const([0], dtype=np.int64),
                                      b.const([dirs], dtype=np.int64),
                                      b.const([0], dtype=np.int64)], "h0_rows")], "h0")
    h0 = b.op("Slice", [h0, b.const([0], dtype=np.int64), b.const([hidden], dtype=np.int64),
                        b.const([2], dtype=np.int64)], "h0_cols")                # [dirs,2,5]
    outs = [b.fresh("y"), b.fresh("y_h")] + ([b.fresh("y_c")] if op == "LSTM" else [])
    b.nodes.append(helper.make_node(op, ["x", w, r, bias, "", h0], outs, name="rnn",
                                    hidden_size=hidden, direction=direction))
    proto = b.model([("x", [4, 2, 6])], outs, 17)
    path = check_against_onnxruntime(proto, tmp_path)
    assert onnx_macs(proto) == dirs * 4 * 2 * gates * hidden * (6 + hidden)
    assert all(layer.op != "opaque" for layer in simaccel.load_model(path).layers)


def test_einsum_matrix_products(tmp_path: Path) -> None:
    """Attention's QKᵀ and its weighted sum written as Einsums, a dense layer by a constant
    with two contracted indices, an outer product, and a transposed output."""
    b = GraphBuilder(seed=10)
    q = b.op("Reshape", ["x", b.const([1, 4, 2, 3], dtype=np.int64)], "q")        # b s h d
    scores = b.op("Einsum", [q, q], "qk", equation="bqhd,bkhd->bhqk")            # [1,2,4,4]
    attn = b.op("Softmax", [scores], "softmax", axis=-1)
    ctx = b.op("Einsum", [attn, q], "av", equation="bhqk,bkhd->bqhd")            # [1,4,2,3]
    dense = b.op("Einsum", [ctx, b.weight((2, 3, 5))], "proj", equation="bqhd,hdo->boq")
    outer = b.op("Einsum", [dense, dense], "outer", equation="boq,bpr->bqopr")
    batched = b.op("Einsum", [outer, b.weight((4, 2))], "ellipsis", equation="...r,rs->...s")
    proto = b.model([("x", [1, 4, 6])], [batched], 17)
    check_against_onnxruntime(proto, tmp_path)
    model = simaccel.load_model(tmp_path / "m.onnx")
    assert not [layer for layer in model.layers if layer.op == "opaque"]


def test_conv_transpose_is_a_gemm_and_an_overlap_add(tmp_path: Path) -> None:
    """Stride 2 with pads, output_padding and dilation; a bias; a 1×1 stride-1 one."""
    b = GraphBuilder(seed=11)
    y = b.op("ConvTranspose", ["x", b.weight((3, 4, 3, 3)), b.weight((4,), scale=0.1)], "up",
             strides=[2, 2], pads=[1, 0, 0, 1], output_padding=[1, 0], dilations=[1, 2])
    y = b.op("Relu", [y], "relu")
    y = b.op("ConvTranspose", [y, b.weight((4, 2, 1, 1))], "pointwise")
    check_against_onnxruntime(b.model([("x", [1, 3, 5, 4])], [y], 17), tmp_path)


def test_one_dimensional_convs_and_pools(tmp_path: Path) -> None:
    """Conv1d (stride, pads, groups, SAME_UPPER), BatchNorm1d, MaxPool1d with ceil_mode
    and AvgPool1d, held [N, L, C] so that no transposes appear between them."""
    b = GraphBuilder(seed=14)
    y = b.op("Conv", ["x", b.weight((8, 4, 3)), b.weight((8,), scale=0.1)], "conv1",
             kernel_shape=[3], strides=[2], pads=[1, 2])
    y = b.op("BatchNormalization", [y, b.weight((8,), scale=0.3), b.weight((8,), scale=0.1),
                                    b.weight((8,), scale=0.1), b.weight((8,), low=0.5)], "bn")
    y = b.op("Relu", [y], "relu")
    y = b.op("Conv", [y, b.weight((8, 2, 3))], "conv_grouped", kernel_shape=[3], group=4,
             strides=[1], auto_pad="SAME_UPPER")
    y = b.op("MaxPool", [y], "maxpool", kernel_shape=[3], strides=[2], ceil_mode=1)
    y = b.op("AveragePool", [y], "avgpool", kernel_shape=[2], pads=[1, 0])
    path = check_against_onnxruntime(b.model([("x", [1, 4, 19])], [y], 17), tmp_path)
    ops = [layer.op for layer in simaccel.load_model(path).layers]
    assert "transpose" not in ops, ops


def test_matmul_by_a_constant_on_the_left(tmp_path: Path) -> None:
    """A · X (token mixing, as MLP-Mixer writes it) and X · B both as dense layers."""
    b = GraphBuilder(seed=15)
    mixed = b.op("MatMul", [b.weight((5, 4)), "x"], "token_mix")                   # [2,5,6]
    y = b.op("MatMul", [b.op("Relu", [mixed], "relu"), b.weight((6, 3))], "channel_mix")
    path = check_against_onnxruntime(b.model([("x", [2, 4, 6])], [y], 17), tmp_path)
    assert [layer.op for layer in simaccel.load_model(path).layers].count("dense") == 2


def test_gemm_in_every_form(tmp_path: Path) -> None:
    """transA, an activation B with transB, α and β, C a matrix, a vector and computed."""
    b = GraphBuilder(seed=16)
    y = b.op("Gemm", ["x", b.weight((4, 6)), b.weight((3, 6))], "t_a", transA=1, alpha=0.5,
             beta=2.0)                                                              # [3, 6]
    z = b.op("Gemm", [y, y, b.weight((3,))], "self", transB=1, alpha=0.25)         # [3, 3]
    w = b.op("Gemm", [z, b.weight((3, 5)), b.weight((1, 5))], "vector_c", beta=0.5)  # [3, 5]
    v = b.op("Gemm", [w, b.weight((5, 5)), w], "computed_c")
    check_against_onnxruntime(b.model([("x", [4, 3])], [v], 17), tmp_path)


def test_resize_pad_and_tile_of_feature_maps_need_no_transposes(tmp_path: Path) -> None:
    b = GraphBuilder(seed=17)
    c = b.op("Conv", ["x", b.weight((4, 3, 3, 3))], "conv", kernel_shape=[3, 3])   # [1,4,5,6]
    r = b.op("Resize", [c, "", b.const([1.0, 1.0, 2.0, 1.5])], "up", mode="linear")
    r = b.op("Resize", [r, "", "", b.const([1, 4, 7, 5], dtype=np.int64)], "down",
             mode="nearest", nearest_mode="floor", coordinate_transformation_mode="asymmetric")
    p = b.op("Pad", [r, b.const([0, 0, 1, 2, 0, 0, 0, 1], dtype=np.int64)], "pad",
             mode="edge")
    t = b.op("Tile", [p, b.const([1, 1, 2, 1], dtype=np.int64)], "tile")
    y = b.op("Conv", [t, b.weight((2, 4, 1, 1))], "head", kernel_shape=[1, 1])
    path = check_against_onnxruntime(b.model([("x", [1, 3, 7, 8])], [y], 18), tmp_path)
    ops = [layer.op for layer in simaccel.load_model(path).layers]
    assert "transpose" not in ops, ops


@pytest.mark.parametrize("opset", [17, 18])
def test_channel_reductions_of_feature_maps_need_no_transposes(opset: int,
                                                               tmp_path: Path) -> None:
    """A LayerNorm over channels written as ReduceMean (axes an attribute before opset 18,
    an input from 18), ReduceL2 over H, W, LogSoftmax over channels."""
    b = GraphBuilder(seed=18)
    c = b.op("Conv", ["x", b.weight((4, 3, 3, 3))], "conv", kernel_shape=[3, 3])

    def reduce(op: str, x: str, axes: list[int]) -> str:
        if opset >= 18:
            return b.op(op, [x, b.const(axes, dtype=np.int64)], op.lower())
        return b.op(op, [x], op.lower(), axes=axes)

    centred = b.op("Sub", [c, reduce("ReduceMean", c, [1])], "centre")
    var = reduce("ReduceMean", b.op("Mul", [centred, centred], "square"), [1])
    normed = b.op("Div", [centred, b.op("Sqrt", [b.op("Add", [var, b.const(1e-5)], "eps")],
                                        "std")], "norm")
    scaled = b.op("Div", [normed, reduce("ReduceL2", normed, [2, 3])], "l2")
    y = b.op("LogSoftmax", [scaled], "logsoftmax", axis=1)
    y = b.op("Conv", [y, b.weight((2, 4, 1, 1))], "head", kernel_shape=[1, 1])
    path = check_against_onnxruntime(b.model([("x", [1, 3, 6, 7])], [y], opset), tmp_path)
    ops = [layer.op for layer in simaccel.load_model(path).layers]
    assert "transpose" not in ops, ops


def test_pool_defaults_and_ceil_mode(tmp_path: Path) -> None:
    """No strides means stride 1 (not the window); dilations; ceil_mode; SAME_LOWER."""
    b = GraphBuilder(seed=6)
    a = b.op("MaxPool", ["x"], "no_strides", kernel_shape=[2, 2])                  # [1,2,8,6]
    a = b.op("MaxPool", [a], "dilated", kernel_shape=[2, 2], dilations=[2, 1],
             strides=[2, 2], ceil_mode=1)
    a = b.op("AveragePool", [a], "avg_ceil", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    a = b.op("AveragePool", [a], "avg_ceil_pads_counted", kernel_shape=[2, 2], strides=[2, 2],
             pads=[1, 0, 0, 1], ceil_mode=1, count_include_pad=1)
    c = b.op("Conv", [a, b.weight((3, 2, 3, 2))], "conv", kernel_shape=[3, 2], strides=[2, 2],
             auto_pad="SAME_LOWER")
    path = check_against_onnxruntime(b.model([("x", [1, 2, 9, 7])], [c], 17), tmp_path)
    model = simaccel.load_model(path)
    assert model.layers[0].stride == (1, 1)


def test_every_registered_op_has_a_kind_a_cost_and_a_frontend() -> None:
    from simaccel.frontends.onnx_model import supported
    from simaccel.ops_onnx import INTERNAL

    assert all(op.kind in ("eltwise", "reduce", "move") and op.cost >= 1 for op in OPS.values())
    assert all(supported(op) for op in OPS if op not in INTERNAL)


# -- the command line ---------------------------------------------------------------------

def small_model(dims: list) -> onnx.ModelProto:
    b = GraphBuilder(seed=7)
    y = b.op("MatMul", ["x", b.weight((6, 4))], "fc")
    y = b.op("Add", [y, b.const(np.arange(4.0))], "bias")
    return b.model([("x", dims)], [(y, dims[:-1] + [4])], 17)


def test_input_from_npy_and_npz(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(small_model([1, 3, 6]), path)
    np.save(tmp_path / "x.npy", np.ones((1, 3, 6), dtype=np.float32))
    np.savez(tmp_path / "x.npz", x=np.ones((1, 3, 6)))
    for arg in (f"x={tmp_path / 'x.npy'}", str(tmp_path / "x.npz")):
        assert main(["simulate", str(path), "--input", arg, "--json", "--quiet"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert {r["check"]["status"] for r in report["layers"]} == {"pass"}
    np.save(tmp_path / "bad.npy", np.ones((1, 4, 6)))
    assert main(["simulate", str(path), "--input", f"x={tmp_path / 'bad.npy'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[1, 4, 6]" in err[0] and "[1, 3, 6]" in err[0]
    assert main(["simulate", str(path), "--input", f"y={tmp_path / 'x.npy'}"]) == 2


def test_symbolic_dims_are_set_and_stated(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(small_model(["batch", "seq", 6]), path)
    assert simaccel.load_model(path).inputs[0].shape == (1, 1, 6)
    model = simaccel.load_model(path, dims={"seq": 5})
    assert model.inputs[0].shape == (1, 5, 6) and dict(model.dims) == {"batch": 1, "seq": 5}
    assert main(["show", str(path), "--dim", "seq=5"]) == 0
    assert "batch=1, seq=5" in capsys.readouterr().err
    assert main(["show", str(path), "--dim", "sequence=5"]) == 2
    assert "no symbolic dimension" in capsys.readouterr().err
    # a dimension given twice is ambiguous, not "the last one wins"
    assert main(["show", str(path), "--dim", "seq=5", "--dim", "seq=7"]) == 2
    assert "--dim: seq: given twice" in capsys.readouterr().err


def test_explicit_zero_dimension_is_refused(tmp_path: Path, capsys) -> None:
    proto = small_model([1, 3, 6])
    proto.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 0
    path = tmp_path / "zero.onnx"
    onnx.save(proto, path)
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "shape[1]" in err and "dimension 0" in err


def test_external_data_is_read_beside_the_model(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save(small_model([1, 3, 6]), folder / "m.onnx", save_as_external_data=True,
              all_tensors_to_one_file=True, location="m.weights", size_threshold=0)
    monkeypatch.chdir(tmp_path)
    model = simaccel.load_model(folder / "m.onnx")
    kernel = next(v for k, v in model.weights.items() if k.endswith(".kernel"))
    assert kernel.shape == (6, 4)
    (folder / "m.weights").unlink()
    with pytest.raises(InputError, match="m.weights"):
        simaccel.load_model(folder / "m.onnx")


def test_compare_prints_the_largest_difference(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(small_model([1, 3, 6]), path)
    assert main(["compare", str(path)]) == 0
    out = capsys.readouterr().out
    assert "max |simaccel - onnxruntime|" in out and "agree" in out
    feeds = onnx_feeds(path, {}, {})
    assert feeds["x"].dtype == np.float32 and feeds["x"].shape == (1, 3, 6)


def mixed_unsupported() -> onnx.ModelProto:
    """Two Einsums that are no matrix product, an LRN, and an If whose branches hold a
    Hardmax and a Det."""
    b = GraphBuilder(seed=8)
    e = b.op("Einsum", ["x"], "einsum", equation="bij->bji")  # one operand: not a GEMM
    e = b.op("Einsum", [e], "einsum", equation="bij->bji")
    lrn = b.op("LRN", [b.op("Unsqueeze", [e, b.const([0], dtype=np.int64)], "u")], "lrn",
               size=3)

    def branch(op: str) -> onnx.GraphProto:
        node = helper.make_node(op, ["x"], [f"{op}_out"], **({"axis": 1} if op == "Hardmax"
                                                               else {}))
        return helper.make_graph([node], op, [], [helper.make_tensor_value_info(
            f"{op}_out", TensorProto.FLOAT, None)])

    cond = b.op("Greater", [b.op("ReduceMax", ["x"], "max", keepdims=0), b.const(0.0)], "any")
    b.nodes.append(helper.make_node("If", [cond], ["branch"], name="if",
                                    then_branch=branch("Hardmax"), else_branch=branch("Det")))
    return b.model([("x", [1, 6, 6])], [lrn], 17)


def test_refusal_lists_every_unsupported_type_with_counts(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(mixed_unsupported(), path)
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and len(err[0]) < 700
    for part in ("Einsum ×2", "LRN ×1", "Hardmax ×1", "Det ×1", "If ×1"):
        assert part in err[0]
    for foldable in ("Shape", "Constant", "Cast"):
        assert foldable not in err[0]


def test_allow_unknown_never_dies_and_says_which_macs_are_missing(tmp_path: Path,
                                                                   capsys) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(mixed_unsupported(), path)
    assert main(["simulate", str(path), "--allow-unknown", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["total"]["macs_unaccounted"]) == 2
    assert all("Einsum" in op for op in report["total"]["macs_unaccounted"])
    einsum = next(r for r in report["layers"] if r["name"].startswith("einsum"))
    assert einsum["dram_read_bytes"] >= 6 * 6  # its input's bytes, at least


def test_data_dependent_op_is_named_and_allow_unknown_still_runs(tmp_path: Path,
                                                                capsys) -> None:
    """NonZero's output size depends on the data: the refusal names it (not the shapes that
    follow from it), and --allow-unknown runs the model with a guessed shape."""
    b = GraphBuilder()
    nz = b.op("Transpose", [b.op("NonZero", ["x"], "nz")], "t")
    total = b.op("ReduceSum", [b.op("Cast", [nz], "c", to=TensorProto.FLOAT)], "sum")
    y = b.op("Add", [b.op("Relu", ["x"], "relu"), total], "add")
    graph = helper.make_graph(
        b.nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [3, 4])], initializer=b.inits)
    path = tmp_path / "nz.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert main(["simulate", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "NonZero ×1" in err and "not static" not in err
    assert main(["simulate", str(path), "--quiet", "--allow-unknown", "--json"]) == 0


def test_embedding_lookup_reads_its_rows_not_the_table(tmp_path: Path) -> None:
    b = GraphBuilder(seed=21)
    table = b.weight((1000, 16))
    y = b.op("Gather", [table, "ids"], "embed")                                   # [1,4,16]
    y = b.op("MatMul", [y, b.weight((16, 8))], "fc")
    graph = helper.make_graph(
        b.nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 4])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 4, 8])], initializer=b.inits)
    path = tmp_path / "embed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    model = simaccel.load_model(path)
    assert model.inputs[0].dtype.is_integer
    report = simaccel.simulate(model, HW, check=True)
    embed = next(r for r in report.to_dict()["layers"] if r["name"].startswith("embed"))
    assert embed["dram_read_bytes"] < 1000 * 16 / 10  # rows and ids, not the table
    rows, _ = compare(path, model, HW, {"ids": np.array([[3, 999, 0, 3]])}, {})
    assert rows[0].max_abs_diff <= 1e-4 * rows[0].max_abs_reference


# --- found by a newcomer's second pass ----------------------------------------------------------

_CASES = Path(__file__).resolve().parent / "data" / "onnx_cases"


def test_compare_never_calls_non_finite_outputs_agreement(tmp_path, capsys) -> None:
    """Inputs of 3e38 overflow both runtimes: a NaN difference must read as DIFFER (exit 3),
    not as a relative difference of 0."""
    from simaccel.cli import main

    huge = tmp_path / "huge.npy"
    np.save(huge, np.full((1, 2, 7, 8), 3e38, dtype=np.float32))
    code = main(["compare", str(_CASES / "conv_same_lower_s2.onnx"), "--input", f"x={huge}"])
    out = capsys.readouterr().out
    assert code == 3 and "DIFFER" in out


def test_a_dim_beyond_the_bounds_is_bad_input(capsys) -> None:
    from simaccel.cli import main

    path = Path(__file__).resolve().parent / "data" / "onnx_exports" / "keras_lstm.onnx"
    assert main(["show", str(path), "--dim", "unk__212=100000000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1048576" in err and "--dim" in err


def test_a_weightless_import_round_trips(tmp_path) -> None:
    from simaccel.cli import main

    out = tmp_path / "pool.json"
    assert main(["import", str(_CASES / "maxpool_no_strides.onnx"), "-o", str(out)]) == 0
    assert not out.with_suffix(".npz").exists()
    assert main(["simulate", str(out), "--json"]) == 0
