"""Graph building and shape inference, op by op, with hand-computed shapes."""

from __future__ import annotations

import pytest

from simaccel.errors import InputError
from simaccel.graph import build_graph
from tests.helpers import model


def _shape(layers: list[dict], inputs: list[dict] | None = None, name: str | None = None):
    graph = build_graph(model(layers, inputs))
    return graph.shapes[name or layers[-1]["name"]]


def test_conv_same_padding_with_stride_on_odd_input() -> None:
    """TF 'same': output ⌈7/2⌉ = 4; total pad (4−1)·2 + 3 − 7 = 2."""
    inputs = [{"name": "x", "shape": [2, 7, 7, 3]}]
    layer = {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 5, "kernel": 3,
             "stride": 2, "padding": "same"}
    assert _shape([layer], inputs) == (2, 4, 4, 5)


def test_conv_valid_dilation_and_explicit_padding() -> None:
    """8 + 1 + 2 − 2·(3−1) − 1 = 6, /1 + 1 = 7 rows; 8 + 0 − 4 − 1 = 3, /1 + 1 = 4 cols."""
    layer = {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 2, "kernel": [3, 3],
             "dilation": 2, "padding": [1, 2, 0, 0]}
    assert _shape([layer]) == (1, 7, 4, 2)


def test_depthwise_conv_keeps_channels() -> None:
    layer = {"name": "dw", "op": "conv2d", "inputs": ["x"], "filters": 4, "kernel": 3,
             "groups": 4, "padding": "same"}
    assert _shape([layer]) == (1, 8, 8, 4)


def test_pools_flatten_dense() -> None:
    layers = [
        {"name": "p", "op": "maxpool2d", "inputs": ["x"], "pool": 2},
        {"name": "a", "op": "avgpool2d", "inputs": ["p"], "pool": 3, "stride": 1,
         "padding": "same"},
        {"name": "f", "op": "flatten", "inputs": ["a"]},
        {"name": "d", "op": "dense", "inputs": ["f"], "units": 7},
    ]
    graph = build_graph(model(layers))
    assert graph.shapes["p"] == (1, 4, 4, 4)
    assert graph.shapes["a"] == (1, 4, 4, 4)
    assert graph.shapes["f"] == (1, 64)
    assert graph.shapes["d"] == (1, 7)


def test_residual_add_and_concat_branch_and_merge() -> None:
    layers = [
        {"name": "a", "op": "conv2d", "inputs": ["x"], "filters": 4, "kernel": 3,
         "padding": "same"},
        {"name": "b", "op": "conv2d", "inputs": ["a"], "filters": 4, "kernel": 1},
        {"name": "sum", "op": "add", "inputs": ["b", "x"]},
        {"name": "cat", "op": "concat", "inputs": ["sum", "a", "x"], "axis": -1},
        {"name": "g", "op": "global_avgpool", "inputs": ["cat"]},
    ]
    graph = build_graph(model(layers))
    assert graph.shapes["cat"] == (1, 8, 8, 12)
    assert graph.shapes["g"] == (1, 12)
    assert graph.consumers("x") == ["a", "sum", "cat"]
    assert graph.model.outputs == ("g",)


def test_attention_reshape_transpose_matmul() -> None:
    inputs = [{"name": "q", "shape": [1, 16, 8]}, {"name": "k", "shape": [1, 16, 8]}]
    layers = [
        {"name": "qh", "op": "reshape", "inputs": ["q"], "shape": [1, 16, 2, -1]},
        {"name": "qt", "op": "transpose", "inputs": ["qh"], "perm": [0, 2, 1, 3]},
        {"name": "kh", "op": "reshape", "inputs": ["k"], "shape": [1, 16, 2, 4]},
        {"name": "kt", "op": "transpose", "inputs": ["kh"], "perm": [0, 2, 1, 3]},
        {"name": "s", "op": "matmul", "inputs": ["qt", "kt"], "transpose_b": True,
         "scale": 0.5},
        {"name": "p", "op": "softmax", "inputs": ["s"]},
        {"name": "ln", "op": "layernorm", "inputs": ["p"]},
    ]
    graph = build_graph(model(layers, inputs))
    assert graph.shapes["qt"] == (1, 2, 16, 4)
    assert graph.shapes["s"] == (1, 2, 16, 16)
    assert graph.shapes["ln"] == (1, 2, 16, 16)


def test_matmul_broadcasts_batch_dimensions() -> None:
    inputs = [{"name": "a", "shape": [3, 1, 5, 6]}, {"name": "b", "shape": [4, 6, 2]}]
    layer = {"name": "m", "op": "matmul", "inputs": ["a", "b"]}
    assert _shape([layer], inputs) == (3, 4, 5, 2)


def test_layers_may_be_listed_out_of_order() -> None:
    layers = [
        {"name": "b", "op": "relu", "inputs": ["a"]},
        {"name": "a", "op": "relu", "inputs": ["x"]},
    ]
    assert build_graph(model(layers)).order == ("a", "b")


@pytest.mark.parametrize(("layers", "field", "words"), [
    ([{"name": "a", "op": "relu", "inputs": ["b"]}, {"name": "b", "op": "relu", "inputs": ["a"]}],
     "layers[0].inputs", "cycle"),
    ([{"name": "a", "op": "relu", "inputs": ["nope"]}], "layers[0].inputs[0]", "nope"),
    ([{"name": "x", "op": "relu", "inputs": ["x"]}], "layers[0].name", "duplicate"),
    ([{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 4, "kernel": 3, "groups": 3}],
     "layers[0].groups", "does not divide"),
    ([{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 4, "kernel": 9}],
     "layers[0].kernel", "larger"),
    ([{"name": "r", "op": "reshape", "inputs": ["x"], "shape": [1, 7, -1]}],
     "layers[0].shape", "cannot hold"),
    ([{"name": "t", "op": "transpose", "inputs": ["x"], "perm": [0, 1, 1, 2]}],
     "layers[0].perm", "permutation"),
    ([{"name": "s", "op": "softmax", "inputs": ["x"], "axis": 4}], "layers[0].axis", "range"),
    ([{"name": "d", "op": "dense", "inputs": ["x"], "units": 3},
      {"name": "a", "op": "add", "inputs": ["d", "x"]}], "layers[1].inputs", "broadcast"),
])
def test_wiring_and_shape_errors_name_the_field(layers: list[dict], field: str,
                                                words: str) -> None:
    with pytest.raises(InputError) as caught:
        build_graph(model(layers))
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(caught.value).startswith(f"t.json: {field}: ")
