"""Models written by the real exporters (torch.onnx.export with dynamo=True and dynamo=False:
torchvision and HuggingFace transformers models from configs and RNNs, random weights;
Keras 3 through tf2onnx), made by scripts/export_onnx_fixtures.py and
scripts/export_keras_fixtures.py and kept in tests/data/onnx_exports/ with their inputs,
onnxruntime's outputs and the framework's MAC count; and the failing files of the shared
cases (tests/data/onnx_cases/), against onnxruntime run here. Every one imports; MACs agree
with the recorded count to 0.5%; the fp32 execution of the tiled schedule equals
onnxruntime's output (rtol 1e-4 of the output's largest magnitude); the int8 one stays above
a stated SQNR."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import simaccel
from simaccel.compare import fp32, onnx_outputs, simaccel_inputs
from simaccel.graph import build_graph
from simaccel.lowering import lower
from simaccel.mapping import compile_program
from simaccel.numerics import check, weights
from simaccel.numerics.quant import sqnr_db
from simaccel.pipeline import input_elements
from simaccel.schedule import build_schedule
from tests.onnx_builders import onnx_macs

DATA = Path(__file__).resolve().parent / "data"
EXPORTS = DATA / "onnx_exports"
CASES = DATA / "onnx_cases"
MANIFEST = json.loads((EXPORTS / "manifest.json").read_text())["files"]
INT8 = simaccel.load_hardware("scalesim_default")  # int8 operands, int32 accumulators
FP32 = fp32(INT8)

#: int8 SQNR of every model output against onnxruntime's, in dB: per-tensor activation
#: scales and per-channel weights, calibrated on the run's own input (torchvision's ViT
#: 21.5 dB, the others 25 dB and up; an attention mask, ±inf or float32's lowest, neither
#: sets a scale nor saturates: it stays a mask).
INT8_SQNR_DB = 20.0

#: MACs torch counts that simaccel folds at import, being computed from weights alone:
#: DeBERTa-v2 projects its relative-position embeddings (2·8 buckets × hidden 32) by the
#: query and key weights (32 × 32) in each of 2 layers: 2 · 2 · 16 · 32 · 32 = 65,536.
FOLDED_MACS = {"hf_deberta_v2_dynamo": 65_536, "hf_deberta_v2_legacy": 65_536}


def run(path: Path, feeds: dict[str, np.ndarray], hw):
    """The model's outputs (ONNX layout, by ONNX name) and MACs, executed from the Program
    compiled for ``hw`` and checked kernel by kernel."""
    model = simaccel.load_model(path)
    graph = build_graph(model)
    kernels = lower(graph)
    schedule = build_schedule(kernels, hw, exact=True)
    params = weights.model_params(graph, model.weights)
    program, _ = compile_program(schedule, input_elements(graph), graph.model.outputs)
    result = check.run(graph, schedule, program, params, simaccel_inputs(model, feeds))
    return onnx_outputs(model, result.outputs), sum(k.macs for k in kernels), result.checks


def stored(name: str) -> tuple[dict, dict]:
    data = np.load(EXPORTS / f"{name}.npz")
    return ({k[3:]: data[k] for k in data.files if k.startswith("in:")},
            {k[4:]: data[k] for k in data.files if k.startswith("out:")})


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_export_imports_with_torchs_macs_and_onnxruntimes_outputs(name: str) -> None:
    feeds, want = stored(name)
    got, macs, checks = run(EXPORTS / f"{name}.onnx", feeds, FP32)
    assert macs == pytest.approx(MANIFEST[name]["macs"] - FOLDED_MACS.get(name, 0), rel=0.005)
    assert all(c.status == "pass" for c in checks)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=0,
                                   atol=1e-4 * float(np.abs(value).max()) + 1e-30)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_export_in_int8_stays_close(name: str) -> None:
    """Every export, int8 included: attention masks of float32's lowest stay masks (BART's,
    GPT-2's, Llama's) and index arithmetic in the graph (BART's decoder ids shifted from
    the input ids, RoBERTa's position ids) stays exact; BART was 2.3 dB before both."""
    feeds, want = stored(name)
    got, _, checks = run(EXPORTS / f"{name}.onnx", feeds, INT8)
    assert all(c.status == "pass" for c in checks)
    for key, value in want.items():
        assert sqnr_db(value.astype(np.float64), got[key]) >= INT8_SQNR_DB


def onnxruntime(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds),
                    strict=True))


@pytest.mark.parametrize("path", sorted(CASES.glob("*.onnx")), ids=lambda p: p.stem)
def test_shared_case_equals_onnxruntime(path: Path) -> None:
    from simaccel.compare import onnx_feeds

    feeds = onnx_feeds(path, {}, {})
    want = onnxruntime(path, feeds)
    got, macs, checks = run(path, feeds, FP32)
    assert macs == onnx_macs(onnx.load(str(path)))
    assert all(c.status == "pass" for c in checks)
    for key, value in want.items():
        assert got[key].shape == value.shape
        np.testing.assert_allclose(got[key], value, rtol=0,
                                   atol=1e-4 * float(np.abs(value).max()) + 1e-30)


#: What each shared case becomes: layer ops (in order) and what else must hold.
CASE_LAYERS = {
    "reducemean_gap": lambda m: "global_avgpool" in ops(m),
    "gelu_dynamo_order": lambda m: ops(m) == ["dense", "gelu", "dense"],
    "concat_single_input": lambda m: ops(m) == ["conv2d"],
    "keras_one_channel_input": lambda m: ops(m) == ["conv2d"] and m.inputs[0].shape == (
        1, 6, 6, 1),
    "keras_zeropad_depthwise": lambda m: ops(m) == ["conv2d"] and m.layers[0].padding == (
        0, 1, 0, 1) and m.inputs[0].shape == (1, 6, 6, 2),
    "maxpool_no_strides": lambda m: m.layers[0].stride == (1, 1),
    "sdpa_plain": lambda m: ops(m).count("matmul") == 2 and "softmax" in ops(m),
    "sdpa_plain_legacy": lambda m: ops(m).count("matmul") == 2 and "softmax" in ops(m),
    "split_multi_output": lambda m: ops(m).count("move") == 2,
    "lstm_expand": lambda m: "opaque" not in ops(m) and ops(m).count("dense") == 1 + 5,
}


EXPORT_LAYERS = {  # patterns found in what the exporters write
    "hf_gpt2_dynamo": lambda m: ops(m).count("gelu_tanh") == 2,
    "hf_gpt2_legacy": lambda m: ops(m).count("gelu_tanh") == 2,
    "hf_bert_legacy": lambda m: ops(m).count("gelu") == 2,
    "resnet18_tiny_dynamo": lambda m: "transpose" not in ops(m) and "eltwise" not in ops(m),
    "keras_mobile_cnn": lambda m: ops(m).count("batchnorm") == 1,
}


@pytest.mark.parametrize("name", sorted(EXPORT_LAYERS))
def test_export_becomes_the_right_layers(name: str) -> None:
    model = simaccel.load_model(EXPORTS / f"{name}.onnx")
    assert EXPORT_LAYERS[name](model), ops(model)


def ops(model) -> list[str]:
    return [layer.op for layer in model.layers]


@pytest.mark.parametrize("name", sorted(CASE_LAYERS))
def test_shared_case_becomes_the_right_layers(name: str) -> None:
    model = simaccel.load_model(CASES / f"{name}.onnx")
    assert CASE_LAYERS[name](model), ops(model)


@pytest.mark.parametrize("name", ["hf_llama_dynamo", "lstm_legacy", "unet_tiny_dynamo"])
def test_import_to_model_json_keeps_the_numbers(name: str, tmp_path: Path) -> None:
    """`simaccel import` writes model.json + .npz that compute what the ONNX file does."""
    from simaccel.cli import main

    assert main(["import", str(EXPORTS / f"{name}.onnx"), "-o", str(tmp_path / "m.json")]) == 0
    feeds, want = stored(name)
    onnx_model = simaccel.load_model(EXPORTS / f"{name}.onnx")
    json_model = simaccel.load_model(tmp_path / "m.json")
    inputs = simaccel_inputs(onnx_model, feeds)
    report = simaccel.simulate(json_model, FP32, check=True, inputs=inputs)
    got = onnx_outputs(onnx_model, report.numerics.outputs)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=0,
                                   atol=1e-4 * float(np.abs(value).max()))


def test_own_inputs_of_a_multi_input_model_from_one_npz(tmp_path: Path, capsys) -> None:
    """A decoder step's token and KV cache (ONNX layout, by ONNX input name) from one .npz,
    for `simulate` and `compare`; a wrong shape is refused naming the input."""
    from simaccel.cli import main

    name = "kv_cache_step_dynamo"
    feeds, _ = stored(name)
    np.savez(tmp_path / "in.npz", **feeds)
    path = str(EXPORTS / f"{name}.onnx")
    assert main(["simulate", path, "--input", str(tmp_path / "in.npz"), "--json",
                 "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {row["check"]["status"] for row in report["layers"]} == {"pass"}
    assert main(["compare", path, "--input", str(tmp_path / "in.npz")]) == 0
    assert "agree" in capsys.readouterr().out
    first = next(iter(feeds))
    np.savez(tmp_path / "bad.npz", **{**feeds, first: feeds[first][..., :-1]})
    assert main(["simulate", path, "--input", str(tmp_path / "bad.npz")]) == 2
    err = capsys.readouterr().err
    assert first in err and len(err.strip().splitlines()) == 1
