"""The ONNX frontend against ground truth: onnxruntime's outputs, MACs counted from the ONNX
graph itself, the hand-written workloads, and clear refusals of what it cannot read."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

import simaccel
from simaccel.cli import main
from simaccel.errors import InputError
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.graph import build_graph
from simaccel.kernels import GemmKernel
from simaccel.lowering import lower
from simaccel.numerics.check import fp_model
from simaccel.numerics.weights import model_params
from simaccel.pipeline import prepare, run
from tests.helpers import shipped_hw_dict, strict_json
from tests.onnx_builders import (
    GraphBuilder,
    attention,
    cnn,
    export_like_torch,
    keras_cnn,
    onnx_macs,
)

ROOT = Path(__file__).resolve().parent.parent


def fp32_hardware():
    """scalesim_default with fp32 operands and accumulators."""
    doc = shipped_hw_dict("scalesim_default")
    doc["dtypes"] = {"input": "fp32", "weight": "fp32", "accumulator": "fp32"}
    return parse_hardware(doc, "<fp32>")


FP32 = fp32_hardware()


def save(proto, tmp_path: Path, name: str = "model.onnx") -> Path:
    path = tmp_path / name
    onnx.save(proto, path)
    return path


def random_feeds(proto, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {i.name: rng.standard_normal(
        [d.dim_value or 1 for d in i.type.tensor_type.shape.dim]).astype(np.float32)
        for i in proto.graph.input}


def onnxruntime_outputs(proto, feeds) -> list[np.ndarray]:
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def to_ours(x: np.ndarray) -> np.ndarray:
    """An ONNX tensor in simaccel's layout: NCHW → NHWC."""
    return x.transpose(0, 2, 3, 1) if x.ndim == 4 else x


def accelerator_outputs(model, feeds):
    """The model run on the fp32 accelerator, tile by tile: (report, outputs in ONNX order)."""
    inputs = {spec.name: to_ours(x).astype(np.float64)
              for spec, x in zip(model.inputs, feeds.values(), strict=True)}
    report = run(prepare(model), FP32, check=True, inputs=inputs)
    return report, [report.numerics.outputs[name] for name in model.outputs]


def assert_matches_onnxruntime(proto, tmp_path: Path):
    """Import ``proto``, run it on the fp32 accelerator and compare with onnxruntime;
    returns the report."""
    feeds = random_feeds(proto)
    model = simaccel.load_model(save(proto, tmp_path))
    report, ours = accelerator_outputs(model, feeds)
    theirs = onnxruntime_outputs(proto, feeds)
    assert len(ours) == len(theirs)
    for got, want in zip(ours, theirs, strict=True):
        want = to_ours(want)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))
    assert all(c.status == "pass" for c in report.numerics.checks)
    return report


def gemm_shapes(model) -> list[tuple[int, int, int, int]]:
    return [(k.groups, k.m, k.k, k.n) for k in lower(build_graph(model))
            if isinstance(k, GemmKernel)]


# --- ground truth: onnxruntime and MACs ------------------------------------------------------

@pytest.mark.parametrize("opset", [13, 15, 17, 19, 21])
def test_cnn_equals_onnxruntime_and_counts_the_graphs_macs(opset: int, tmp_path: Path) -> None:
    proto = cnn(opset)
    report = assert_matches_onnxruntime(proto, tmp_path)
    assert report.results.total.macs == onnx_macs(proto) == 76_872


@pytest.mark.parametrize("opset", [13, 18])
def test_keras_nhwc_model_from_tf2onnx_equals_onnxruntime(opset: int, tmp_path: Path) -> None:
    """tf2onnx's NHWC → NCHW transposes cancel against simaccel's own NHWC layout: the
    input stays NHWC and no transpose layer is left."""
    proto = keras_cnn(opset)
    feeds = random_feeds(proto)
    model = simaccel.load_model(save(proto, tmp_path))
    assert model.inputs[0].shape == (1, 12, 10, 3)
    assert "transpose" not in {layer.op for layer in model.layers}
    report = run(prepare(model), FP32, check=True,
                 inputs={model.inputs[0].name: feeds["x"].astype(np.float64)})
    probs, feature_map = onnxruntime_outputs(proto, feeds)
    np.testing.assert_allclose(report.numerics.outputs[model.outputs[0]], probs,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(report.numerics.outputs[model.outputs[1]], feature_map,
                               rtol=1e-5, atol=1e-5 * float(np.abs(feature_map).max()))
    assert report.results.total.macs == onnx_macs(proto)


ATTENTION_VARIANTS = {
    # opset, decomposed LayerNorm, Gelu op, Shape-subgraph Reshape targets, Constant-node
    # scalars (torch) or initializers
    "opset13 as torch writes it": dict(opset=13, decomposed_ln=True, gelu_op=False),
    "opset17 LayerNormalization op": dict(opset=17, decomposed_ln=False, gelu_op=False,
                                          shape_subgraph=False, scalar_nodes=False),
    "opset18 ReduceMean axes input": dict(opset=18, decomposed_ln=True, gelu_op=False),
    "opset20 Gelu op": dict(opset=20, decomposed_ln=False, gelu_op=True),
    "opset21 Gelu tanh": dict(opset=21, decomposed_ln=True, gelu_op=True,
                              gelu_approximate="tanh", scalar_nodes=False),
}


@pytest.mark.parametrize("variant", ATTENTION_VARIANTS)
def test_attention_equals_onnxruntime_and_counts_the_graphs_macs(variant: str,
                                                                 tmp_path: Path) -> None:
    proto = attention(**ATTENTION_VARIANTS[variant])
    report = assert_matches_onnxruntime(proto, tmp_path)
    assert report.results.total.macs == onnx_macs(proto)


def test_attention_patterns_become_single_layers(tmp_path: Path) -> None:
    """The exporters' patterns are recognised, not costed op by op: the decomposed LayerNorm
    is one layernorm, the Erf GELU one gelu (fused into the FFN GEMM), and the Shape →
    Gather → Concat subgraphs leave no layer behind."""
    model = simaccel.load_model(save(attention(13, decomposed_ln=True, gelu_op=False), tmp_path))
    ops = Counter(layer.op for layer in model.layers)
    assert ops["layernorm"] == 2 and ops["gelu"] == 1 and ops["softmax"] == 1
    assert ops["dense"] == 6 and ops["matmul"] == 2
    assert not {"opaque", "sub", "div"} & set(ops)
    kernels = lower(build_graph(model))
    gemms = [k for k in kernels if isinstance(k, GemmKernel)]
    ffn_in = next(k for k in gemms if k.n == 64)
    assert "gelu" in {build_graph(model).layer(n).op for n in ffn_in.fused}
    # QKᵀ per head: [S, dh] · [dh, S]; context: [S, S] · [S, dh]
    assert sorted((k.groups, k.m, k.k, k.n) for k in gemms if k.op == "matmul") == [
        (2, 6, 6, 8), (2, 6, 8, 6)]


def test_nchw_input_is_carried_as_nhwc(tmp_path: Path) -> None:
    model = simaccel.load_model(save(cnn(17), tmp_path))
    (spec,) = model.inputs
    assert spec.shape == (1, 17, 15, 3)
    conv = next(layer for layer in model.layers if layer.op == "conv2d")
    assert model.weights[f"{conv.name}.kernel"].shape == (3, 3, 3, 8)  # HWIO


def test_symbolic_batch_dimension_is_pinned_to_one(tmp_path: Path) -> None:
    proto = cnn(17)
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    model = simaccel.load_model(save(proto, tmp_path))
    assert model.inputs[0].shape == (1, 17, 15, 3)
    assert sum(k.macs for k in lower(build_graph(model))) == 76_872


# --- the hand-written workloads, exported and imported --------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    """ResNet-18 and MobileNetV2 from workloads/ written as torch.onnx.export writes them."""
    out = {}
    for name in ("resnet18", "mobilenet_v2"):
        model = simaccel.load_model(ROOT / "workloads" / f"{name}.json")
        params = model_params(build_graph(model))
        proto = export_like_torch(model, params)
        path = tmp_path_factory.mktemp(name) / f"{name}.onnx"
        onnx.save(proto, path)
        out[name] = (model, params, proto, path)
    return out


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_imported_workload_has_the_same_gemms_and_macs(name: str, exported: dict) -> None:
    model, _, proto, path = exported[name]
    imported = simaccel.load_model(path)
    assert gemm_shapes(imported) == gemm_shapes(model)
    macs = sum(k.macs for k in lower(build_graph(imported)))
    assert macs == sum(k.macs for k in lower(build_graph(model))) == onnx_macs(proto)
    assert macs == {"resnet18": 1_814_073_344, "mobilenet_v2": 300_774_272}[name]


def test_imported_mobilenet_computes_what_onnxruntime_does(exported: dict) -> None:
    _, _, proto, path = exported["mobilenet_v2"]
    imported = simaccel.load_model(path)
    graph = build_graph(imported)
    feeds = random_feeds(proto)
    (spec,) = imported.inputs
    tensors = fp_model(graph, model_params(graph, imported.weights),
                       {spec.name: to_ours(next(iter(feeds.values()))).astype(np.float64)})
    (want,) = onnxruntime_outputs(proto, feeds)
    got = tensors[imported.outputs[0]]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))


def test_same_weights_give_the_same_outputs_as_the_json_model(exported: dict) -> None:
    """Weights travel through the ONNX initializers (OIHW → HWIO, BN tensors) unchanged
    but for their rounding to float32."""
    model, params, _, path = exported["mobilenet_v2"]
    imported = simaccel.load_model(path)
    graph, graph2 = build_graph(model), build_graph(imported)
    x = np.random.default_rng(1).standard_normal(model.inputs[0].shape)
    a = fp_model(graph, params, {model.inputs[0].name: x})[model.outputs[0]]
    b = fp_model(graph2, model_params(graph2, imported.weights),
                 {imported.inputs[0].name: x})[imported.outputs[0]]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(np.abs(a).max()))


# --- the CLI: import and simulate -------------------------------------------------------------

def test_import_writes_a_model_json_that_simulates_like_the_onnx(tmp_path: Path,
                                                                 capsys) -> None:
    onnx_path = save(cnn(17), tmp_path)
    out = tmp_path / "converted" / "model.json"
    out.parent.mkdir()  # import refuses a missing parent folder, as every verb does
    assert main(["import", str(onnx_path), "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["format"] == "simaccel-model/1" and doc["weights"] == "model.npz"
    assert (tmp_path / "converted" / "model.npz").exists()

    direct, converted = simaccel.load_model(onnx_path), simaccel.load_model(out)
    assert gemm_shapes(direct) == gemm_shapes(converted)
    feeds = random_feeds(cnn(17))
    _, a = accelerator_outputs(direct, feeds)
    _, b = accelerator_outputs(converted, feeds)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)

    capsys.readouterr()
    assert main(["simulate", str(onnx_path), "--json", "--quiet"]) == 0
    r1 = strict_json(capsys.readouterr().out)
    assert main(["simulate", str(out), "--json", "--quiet"]) == 0
    r2 = strict_json(capsys.readouterr().out)
    assert r1["total"]["cycles"] == r2["total"]["cycles"] > 0
    assert r1["total"]["macs"] == r2["total"]["macs"] == 76_872


# --- unsupported ops --------------------------------------------------------------------------

def unsupported_model() -> onnx.ModelProto:
    """A CNN with three ops simaccel does not model, of two types: LRN, Hardmax, LRN."""
    b = GraphBuilder()
    c = b.op("Conv", ["x", b.weight((4, 3, 3, 3))], "conv", kernel_shape=[3, 3],
             pads=[1, 1, 1, 1])
    lrn = b.op("LRN", [c], "norm1", size=3)
    hard = b.op("Hardmax", [lrn], "hardmax", axis=1)
    lrn2 = b.op("LRN", [hard], "norm2", size=3)
    r = b.op("Relu", [lrn2], "relu")
    return b.model([("x", [1, 3, 8, 8])], [r], 17, "unsupported")


def test_unsupported_ops_are_listed_by_type_with_counts(tmp_path: Path, capsys) -> None:
    path = save(unsupported_model(), tmp_path)
    with pytest.raises(InputError) as err:
        simaccel.load_model(path)
    message = str(err.value)
    assert "LRN ×2" in message and "Hardmax ×1" in message
    assert "--allow-unknown" in message

    assert main(["simulate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0]
    assert "unsupported ONNX ops (3 in 2 types)" in lines[0]


def test_allow_unknown_costs_them_by_their_bytes(tmp_path: Path, capsys) -> None:
    path = save(unsupported_model(), tmp_path)
    assert main(["simulate", str(path), "--allow-unknown", "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "warning: 3 unsupported op(s)" in captured.err
    report = strict_json(captured.out)
    layers = {row["name"].rsplit("_", 1)[0]: row for row in report["layers"]}
    assert {"norm1", "hardmax", "norm2"} <= set(layers)
    assert layers["hardmax"]["kernel"] == {"type": "vector", "elements": 8 * 8 * 4}
    assert layers["hardmax"]["dram_read_bytes"] >= 8 * 8 * 4
    assert all(row["check"]["status"] == "skipped" for row in report["layers"])
    assert report["total"]["macs_unaccounted"] == []


# --- files that are not ONNX, or not whole --------------------------------------------------

def refuses(path: Path, capsys, *words: str) -> str:
    """``simaccel simulate path`` exits 2 with one line naming the file; returns it."""
    assert main(["simulate", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert str(path) in lines[0] and "Traceback" not in captured.err
    for word in words:
        assert word in lines[0]
    assert not (path.parent / "report.json").exists()
    return lines[0]


def test_empty_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    refuses(path, capsys, "empty")


def test_text_file_named_onnx(tmp_path: Path, capsys) -> None:
    path = tmp_path / "model.onnx"
    path.write_text(json.dumps({"format": "simaccel-model/1", "layers": []}))
    refuses(path, capsys, "not a valid ONNX")


def test_random_bytes(tmp_path: Path, capsys) -> None:
    path = tmp_path / "noise.onnx"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    refuses(path, capsys)


def test_truncated_file(tmp_path: Path, capsys) -> None:
    raw = cnn(17).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(raw[: len(raw) // 2])
    refuses(path, capsys)


CNN_BYTES = cnn(17).SerializeToString()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=1, max_value=len(CNN_BYTES) - 1))
def test_every_truncation_is_refused_as_bad_input(cut: int, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("cut") / "cut.onnx"
    path.write_bytes(CNN_BYTES[:cut])
    with pytest.raises(InputError) as err:
        simaccel.load_model(path)
    assert str(path) in str(err.value)


ATTENTION_BYTES = attention(13, decomposed_ln=True, gelu_op=False).SerializeToString()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from([CNN_BYTES, ATTENTION_BYTES]),
       edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      min_size=1, max_size=4))
def test_corrupted_bytes_are_bad_input_or_a_model(which: bytes, edits, tmp_path_factory) -> None:
    """Flipped bytes that still parse as protobuf (a wrong attribute, a dangling input, a
    corrupt initializer, a shape that does not add up) are refused as bad input naming
    where, or import as a model that simulates: never another exception."""
    raw = bytearray(which)
    for where, value in edits:
        raw[int(where * len(raw))] = value
    path = tmp_path_factory.mktemp("flip") / "flip.onnx"
    path.write_bytes(bytes(raw))
    try:
        model = simaccel.load_model(path)
    except InputError as err:
        assert str(path) in str(err)
        return
    simaccel.simulate(model, FP32, check=False)


def test_old_opset_is_refused(tmp_path: Path, capsys) -> None:
    proto = cnn(13)
    proto.opset_import[0].version = 9
    refuses(save(proto, tmp_path), capsys, "opset 9", "13 to 21")


def test_graph_without_nodes_is_refused(tmp_path: Path, capsys) -> None:
    graph = helper.make_graph([], "empty", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 4])], [helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, [1, 4])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    refuses(save(proto, tmp_path), capsys, "no nodes")


def test_data_dependent_shape_is_refused(tmp_path: Path, capsys) -> None:
    """A Reshape whose target comes from the input's values has no static shape."""
    b = GraphBuilder()
    r = b.op("Reshape", ["x", "target"], "reshape")
    d = b.op("Relu", [r], "relu")
    graph = helper.make_graph(
        b.nodes, "dyn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 12]),
         helper.make_tensor_value_info("target", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info(d, TensorProto.FLOAT, ["rows", "cols"])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    refuses(save(proto, tmp_path), capsys, "node reshape_1", "not static")
