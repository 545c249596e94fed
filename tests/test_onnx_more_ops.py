"""ONNX ops and forms that real exports of more families needed (TopK, ScatterElements, an
empty tensor concatenated, a MatMul by a constant of rank > 3, grouped and 1-D
ConvTranspose): hand-derived values of the numpy meanings, and small graphs against
onnxruntime and the graph's own MAC count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import simaccel
from simaccel.cli import main
from simaccel.ops_onnx import run
from tests.onnx_builders import GraphBuilder
from tests.test_onnx_kinds import check_against_onnxruntime

pytest.importorskip("onnxruntime")


def test_topk_keeps_the_lower_index_of_equal_values() -> None:
    """[3, 1, 3, 2]: the two largest are 3 (index 0) then 3 (index 2), as the spec orders
    ties; the two smallest 1 (index 1) and 2 (index 3); along axis 0 of a column too."""
    x = np.array([3.0, 1.0, 3.0, 2.0])
    k = np.array([2])
    assert run("TopK", [x, k], {"output_index": 0}).tolist() == [3.0, 3.0]
    assert run("TopK", [x, k], {"output_index": 1}).tolist() == [0.0, 2.0]
    assert run("TopK", [x, k], {"output_index": 0, "largest": 0}).tolist() == [1.0, 2.0]
    assert run("TopK", [x, k], {"output_index": 1, "largest": 0}).tolist() == [1.0, 3.0]
    column = x.reshape(4, 1)
    assert run("TopK", [column, k], {"output_index": 1, "axis": 0}).ravel().tolist() == [
        0.0, 2.0]
    ties = np.tile([1.0, 0.0], 20)  # long enough for an unstable sort to reorder ties
    assert run("TopK", [ties, np.array([4])], {"output_index": 1}).tolist() == [0, 2, 4, 6]


def test_scatter_elements_writes_along_its_axis_and_reduces_repeats() -> None:
    """The spec's example (axis 1: [[1, 2, 3, 4, 5]], indices [[1, 3]], updates
    [[1.1, 2.1]] → [[1, 1.1, 3, 2.1, 5]]), a negative index, and repeated indices added
    (reduction="add": 0 + 1 + 2 at index 0) or multiplied."""
    data = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    got = run("ScatterElements", [data, np.array([[1, -2]]), np.array([[1.1, 2.1]])],
              {"axis": 1})
    assert got.tolist() == [[1.0, 1.1, 3.0, 2.1, 5.0]]
    idx, upd = np.array([0, 0, 2]), np.array([1.0, 2.0, 3.0])
    assert run("ScatterElements", [np.zeros(3), idx, upd], {"reduction": "add"}).tolist() == [
        3.0, 0.0, 3.0]
    assert run("ScatterElements", [np.ones(3) * 2, idx, upd], {"reduction": "mul"}
               ).tolist() == [4.0, 2.0, 6.0]
    assert run("ScatterND", [np.zeros(3), np.array([[1], [1]]), np.array([2.0, 5.0])],
               {"reduction": "max"}).tolist() == [0.0, 5.0, 0.0]


def test_topk_and_scatter_elements_against_onnxruntime(tmp_path: Path) -> None:
    """TopK over the channels of a conv's output (held NHWC), smallest first, both outputs
    used; ScatterElements writing a row of an activation at constant positions."""
    b = GraphBuilder(seed=41)
    c = b.op("Conv", ["x", b.weight((6, 3, 3, 3))], "conv", kernel_shape=[3, 3])  # [1,6,4,4]
    values = b.op("TopK", [c, b.const(np.array([3]), "k", np.int64)], "topk", n_out=2,
                  axis=1, largest=0)
    picked = b.op("Cast", [f"{values}:1"], "as_float", to=onnx.TensorProto.FLOAT)
    y = b.op("Add", [values, picked], "sum")
    flat = b.op("Reshape", [y, b.const(np.array([3, 16]), "shape", np.int64)], "flat")
    idx = b.const(np.array([[0, 5, 9], [15, 1, 2]]), "idx", np.int64)
    upd = b.op("Slice", [flat, *(b.const(np.array([v]), "s", np.int64) for v in (0, 2, 0))],
               "rows")
    upd = b.op("Slice", [upd, *(b.const(np.array([v]), "s", np.int64) for v in (0, 3, 1))],
               "cols")
    out = b.op("ScatterElements", [flat, idx, upd], "scatter", axis=1)
    path = check_against_onnxruntime(b.model([("x", [1, 3, 6, 6])], [out], 17), tmp_path)
    ops = [layer.onnx_op for layer in simaccel.load_model(path).layers
           if layer.op in ("reduce", "move")]
    assert ops.count("TopK") == 2 and "ScatterElements" in ops


def test_an_empty_part_of_a_concat_folds_away(tmp_path: Path) -> None:
    """Phi-3's rotary: a head split into its rotated part (all of it) and an empty rest,
    concatenated back: the empty Slice is not a layer and the Concat is an alias."""
    b = GraphBuilder(seed=42)
    y = b.op("MatMul", ["x", b.weight((8, 8))], "proj")                        # [1, 4, 8]
    bounds = [b.const(np.array([v]), "s", np.int64) for v in (8, 2**62, 2)]
    rest = b.op("Slice", [y, *bounds], "rest")                                  # [1, 4, 0]
    rotated = b.op("Neg", [y], "rotate")
    out = b.op("Concat", [rotated, rest], "cat", axis=-1)
    path = check_against_onnxruntime(b.model([("x", [1, 4, 8])], [out], 17), tmp_path)
    assert [layer.op for layer in simaccel.load_model(path).layers] == ["dense", "eltwise"]


@pytest.mark.parametrize("x_shape, w_shape, denses", [
    ([2, 3, 4], (2, 4, 5), 2),        # DeBERTa: one matrix per head
    ([3, 4], (2, 4, 5), 2),           # the activation broadcast over the constant's batch
    ([2, 1, 3, 4], (1, 3, 4, 5), 6),  # both broadcast: [2, 3] matrices
    ([2, 3, 4], (1, 1, 4, 5), 1),     # a batch of one: one dense layer, reshaped
])
def test_matmul_by_a_constant_of_higher_rank(x_shape, w_shape, denses, tmp_path) -> None:
    b = GraphBuilder(seed=43)
    y = b.op("MatMul", [b.op("Relu", ["x"], "relu"), b.weight(w_shape)], "bmm")
    path = check_against_onnxruntime(b.model([("x", x_shape)], [y], 17), tmp_path)
    assert [layer.op for layer in simaccel.load_model(path).layers].count("dense") == denses


def test_matmul_by_a_constant_of_too_many_matrices_is_one_line(tmp_path: Path,
                                                              capsys) -> None:
    b = GraphBuilder(seed=44)
    y = b.op("MatMul", ["x", b.weight((4097, 2, 1))], "bmm")
    path = tmp_path / "m.onnx"
    onnx.save(b.model([("x", [4097, 1, 2])], [y], 17), path)
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "m.onnx" in err[0] and "MatMul" in err[0] and "4097" in err[0]
    assert "bmm" in err[0]  # the node


def test_grouped_and_one_dimensional_conv_transpose(tmp_path: Path) -> None:
    """A grouped ConvTranspose2d (2 groups, stride 2, output padding, bias) and a
    ConvTranspose1d (4 groups, stride 3, dilation 2, output padding): per group one GEMM and one
    overlap-add, the groups concatenated."""
    b = GraphBuilder(seed=45)
    y = b.op("ConvTranspose", ["x", b.weight((4, 3, 3, 3)), b.weight((6,), scale=0.1)], "up",
             strides=[2, 2], pads=[1, 1, 1, 0], output_padding=[1, 0], group=2)
    y = b.op("Reshape", [b.op("Relu", [y], "relu"), b.const(np.array([1, 8, -1]), "s",
                                                            np.int64)], "as_1d")
    y = b.op("ConvTranspose", [y, b.weight((8, 1, 3))], "up1d", strides=[3], pads=[1, 2],
             dilations=[2], output_padding=[1], group=4)
    path = check_against_onnxruntime(b.model([("x", [1, 4, 3, 4])], [y], 17), tmp_path)
    ops = [layer.op for layer in simaccel.load_model(path).layers]
    assert ops.count("dense") == 2 + 4 and ops.count("concat") == 2


@pytest.mark.parametrize("transform, exclude", [("half_pixel", 0), ("align_corners", 0),
                                                ("half_pixel", 1)])
def test_cubic_resize(transform: str, exclude: int, tmp_path: Path) -> None:
    """Keys' cubic kernel (a = -0.75, torch's bicubic; -0.5 with exclude_outside) by a
    scale of 2 in H and to a size in W, on a conv's output held NHWC."""
    b = GraphBuilder(seed=46)
    y = b.op("Conv", ["x", b.weight((4, 3, 3, 3))], "conv", kernel_shape=[3, 3],
             pads=[1, 1, 1, 1])
    sizes = b.const(np.array([1, 4, 12, 9]), "sizes", np.int64)
    y = b.op("Resize", [y, "", "", sizes], "resize", mode="cubic",
             coordinate_transformation_mode=transform, exclude_outside=exclude,
             cubic_coeff_a=-0.5 if exclude else -0.75)
    check_against_onnxruntime(b.model([("x", [1, 3, 6, 5])], [y], 18), tmp_path)


@pytest.mark.parametrize("attributes, reason", [
    ({"mode": "linear", "antialias": 1}, "antialias"),
    ({"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"},
     "tf_crop_and_resize"),
])
def test_a_resize_simaccel_does_not_compute_is_one_line(attributes, reason, tmp_path: Path,
                                                        capsys) -> None:
    b = GraphBuilder(seed=47)
    scales = b.const(np.array([1.0, 1.0, 2.0, 2.0]), "scales")
    roi = b.const(np.array([0, 0, 0, 0, 1, 1, 1, 1.0]), "roi")
    y = b.op("Resize", [b.op("Relu", ["x"], "relu"), roi, scales], "resize", **attributes)
    path = tmp_path / "m.onnx"
    onnx.save(b.model([("x", [1, 2, 4, 4])], [y], 18), path)
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "m.onnx" in err[0] and "Resize" in err[0] and reason in err[0]
    assert "resize" in err[0].split(reason)[1]  # the node, after the reason


@pytest.mark.parametrize("mode", ["linear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("corners", [0, 1])
def test_grid_sample(mode: str, padding: str, corners: int, tmp_path: Path) -> None:
    """GridSample of a conv's output at a grid computed from the input (a spatial
    transformer), reaching up to 1.6 beyond [-1, 1] so that every padding is exercised."""
    b = GraphBuilder(seed=48)
    y = b.op("Conv", ["x", b.weight((4, 2, 3, 3))], "conv", kernel_shape=[3, 3],
             pads=[1, 1, 1, 1])                                                  # [1,4,5,6]
    grid = b.op("Mul", [b.op("Tanh", ["g"], "tanh"), b.const(2.6)], "grid")      # [1,3,7,2]
    out = b.op("GridSample", [y, grid], "sample", mode=mode, padding_mode=padding,
               align_corners=corners)
    check_against_onnxruntime(b.model([("x", [1, 2, 5, 6]), ("g", [1, 3, 7, 2])], [out], 20),
                              tmp_path)


def test_a_cubic_grid_sample_is_one_line(tmp_path: Path, capsys) -> None:
    b = GraphBuilder(seed=49)
    out = b.op("GridSample", [b.op("Relu", ["x"], "relu"), "g"], "sample", mode="cubic")
    path = tmp_path / "m.onnx"
    onnx.save(b.model([("x", [1, 2, 4, 4]), ("g", [1, 3, 3, 2])], [out], 20), path)
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "m.onnx" in err[0] and "GridSample" in err[0] and "cubic" in err[0]


def test_nearest_grid_sample_rounds_ties_to_even() -> None:
    """Width 4, align_corners 0: x = -0.5 and 0 are pixels 0.5 and 1.5, which round (as
    torch's nearest) to pixels 0 and 2; bilinearly they are the means of their neighbours."""
    x = np.array([0.0, 10.0, 20.0, 30.0]).reshape(1, 1, 1, 4)
    grid = np.array([[-0.5, 0.0], [0.0, 0.0]]).reshape(1, 1, 2, 2)
    nearest = run("GridSample", [x, grid], {"mode": "nearest"})
    assert nearest.ravel().tolist() == [0.0, 20.0]
    assert run("GridSample", [x, grid], {"mode": "linear"}).ravel().tolist() == [5.0, 15.0]


def test_einsum_of_a_constant_first_operand(tmp_path: Path) -> None:
    """A spatial transformer's grid: constant pixel coordinates [H, W, 3] times each image's
    affine transform [N, 2, 3] ("hwk,nck->nhwc"): a dense layer, the operands swapped."""
    b = GraphBuilder(seed=50)
    theta = b.op("MatMul", ["x", b.weight((4, 6))], "loc")
    theta = b.op("Reshape", [theta, b.const(np.array([2, 2, 3]), "s", np.int64)], "theta")
    out = b.op("Einsum", [b.weight((5, 7, 3)), theta], "grid", equation="hwk,nck->nhwc")
    path = check_against_onnxruntime(b.model([("x", [2, 4])], [out], 17), tmp_path)
    assert [layer.op for layer in simaccel.load_model(path).layers].count("dense") == 2
