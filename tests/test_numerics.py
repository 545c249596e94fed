"""Numerics: the tiled schedule against numpy, quantization, overflow, and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simaccel
from simaccel.cli import main
from simaccel.domain import DType
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.graph import build_graph
from simaccel.hardware import Hardware
from simaccel.numerics import reference
from simaccel.numerics.quant import quantize, round_to, scale_for, sqnr_db
from simaccel.numerics.tiled import conv_weights, im2col
from tests.helpers import model, strict_json

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"


def _hw(dataflow: str = "os", side: int = 8, kib: float = 4, dtypes: tuple = ("int8", "int8",
        "int32"), double: bool = True) -> Hardware:
    return parse_hardware({
        "name": "n", "clock_mhz": 1000,
        "array": {"rows": side, "cols": side, "dataflow": dataflow},
        "dtypes": dict(zip(("input", "weight", "accumulator"), dtypes, strict=True)),
        "sram": {"ifmap_kib": kib, "filter_kib": kib, "ofmap_kib": kib,
                 "double_buffered": double},
        "dram": {"bytes_per_cycle": 8, "latency_ns": 20}, "vector": {"lanes": side}}, "<test>")


def _statuses(report: simaccel.Report) -> list[str]:
    return [layer["check"]["status"] for layer in report.to_dict()["layers"]]


# --- reference ops, by hand ------------------------------------------------------------------

def test_reference_conv_matches_a_hand_sum() -> None:
    """A 3×3 input of 1..9, one 2×2 kernel of ones, stride 1, valid: each output is the sum
    of a 2×2 window: 1+2+4+5 = 12, 2+3+5+6 = 16, 4+5+7+8 = 24, 5+6+8+9 = 28."""
    layer = build_graph(model([{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 1,
                                "kernel": 2}], [{"name": "x", "shape": [1, 3, 3, 1]}])).layer("c")
    x = np.arange(1, 10, dtype=float).reshape(1, 3, 3, 1)
    out = reference.conv2d(x, np.ones((2, 2, 1, 1)), layer)
    assert out.reshape(-1).tolist() == [12, 16, 24, 28]


def test_im2col_times_weights_equals_direct_convolution() -> None:
    graph = build_graph(model([{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 6,
                                "kernel": 3, "stride": 2, "dilation": 1, "groups": 2,
                                "padding": "same"}], [{"name": "x", "shape": [2, 7, 7, 4]}]))
    layer = graph.layer("c")
    rng = np.random.default_rng(0)
    x, w = rng.integers(-9, 9, (2, 7, 7, 4)).astype(float), rng.integers(-9, 9, (3, 3, 2, 6))
    cols = im2col(x, layer, 2) @ conv_weights(w.astype(float), 2)  # [g, M, N/g]
    direct = reference.conv2d(x, w.astype(float), layer)
    assert np.array_equal(cols.transpose(1, 0, 2).reshape(direct.shape), direct)


def test_integer_reference_conv_is_exact_past_float32s_run() -> None:
    """int8 extremes (±127) over 3·3·151 = 1,359 terms per output: float32 holds partial
    sums only up to 2**24 / 127² = 1,040 terms, so the reference must split the sum into
    float32 runs and add them in float64; it equals the int64 sum exactly (1,359 · 127² is
    odd and above 2**24: float32 cannot even hold the total)."""
    graph = build_graph(model([{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 5,
                                "kernel": 3, "padding": "same"}],
                              [{"name": "x", "shape": [1, 6, 6, 151]}]))
    layer = graph.layer("c")
    rng = np.random.default_rng(3)
    x = rng.choice([-127, 127], (1, 6, 6, 151))
    w = rng.choice([-127, 127], (3, 3, 151, 5))
    w[..., 0] = 127  # filter 0 on an all-127 window sums to 1,359 · 127² > 2**24
    x[0, 2:5, 2:5, :] = 127
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    exact = np.zeros((1, 6, 6, 5), dtype=np.int64)
    for i in range(3):
        for j in range(3):
            exact += np.einsum("nhwc,cf->nhwf", padded[:, i:i + 6, j:j + 6], w[i, j])
    assert exact[0, 3, 3, 0] == 1359 * 127 * 127
    got = reference.conv2d(x.astype(float), w.astype(float), layer, integer=True)
    assert np.array_equal(got, exact)


def test_average_pool_excludes_padding() -> None:
    """3×3 average with 'same' padding at a corner averages the 4 real values only."""
    layer = build_graph(model([{"name": "p", "op": "avgpool2d", "inputs": ["x"], "pool": 3,
                                "stride": 1, "padding": "same"}],
                              [{"name": "x", "shape": [1, 3, 3, 1]}])).layer("p")
    x = np.arange(1, 10, dtype=float).reshape(1, 3, 3, 1)
    assert reference.pool2d(x, layer)[0, 0, 0, 0] == (1 + 2 + 4 + 5) / 4


# --- quantization ----------------------------------------------------------------------------

def test_bf16_rounds_to_nearest_even() -> None:
    x = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-9, -(1 + 2**-7)])
    assert round_to(x, DType.BF16).tolist() == [1.0, 1 + 2**-6, 1.0, -(1 + 2**-7)]


def test_symmetric_quantization_saturates() -> None:
    scale = scale_for(2.0, DType.INT8)
    assert scale == pytest.approx(2 / 127)
    assert quantize(np.array([2.0, -2.0, 3.0, 0.01]), scale, DType.INT8).tolist() == [
        127, -127, 127, 1]


def test_sqnr() -> None:
    """Noise 1/10 of the signal's amplitude: 20 dB."""
    assert sqnr_db(np.ones(4) * 10, np.ones(4) * 11) == pytest.approx(20.0)


# --- whole models ----------------------------------------------------------------------------

@pytest.mark.parametrize("config", ["scalesim_default", "gemmini", "tpu_v1", "teaching_8x8"])
@pytest.mark.parametrize("workload", ["mnist_cnn", "bert_base_encoder"])
def test_int8_schedules_are_bit_exact(workload: str, config: str) -> None:
    report = simaccel.simulate(simaccel.load_model(WORKLOADS / f"{workload}.json"),
                               simaccel.load_hardware(config), check=True)
    layers = report.to_dict()["layers"]
    assert all(layer["check"]["status"] == "pass" for layer in layers)
    assert all(layer["check"]["max_abs_error"] == 0 for layer in layers
               if layer["kernel"]["type"] == "gemm")
    assert min(layer["check"]["sqnr_db"] for layer in layers) > 15


@pytest.mark.parametrize(("dtypes", "min_sqnr"), [
    (("bf16", "bf16", "fp32"), 30), (("fp16", "fp16", "fp32"), 45),
    (("fp32", "fp32", "fp32"), 100)])
def test_other_datatypes_pass_and_are_more_precise(dtypes: tuple, min_sqnr: float) -> None:
    hw = _hw(dataflow="ws", dtypes=dtypes, kib=8)
    report = simaccel.simulate(simaccel.load_model(WORKLOADS / "mnist_cnn.json"), hw, check=True)
    layers = report.to_dict()["layers"]
    assert all(layer["check"]["status"] == "pass" for layer in layers)
    assert all(layer["check"]["dtype"] == "/".join(dtypes) for layer in layers)
    assert min(layer["check"]["sqnr_db"] or 1e9 for layer in layers) > min_sqnr


def _overflowing_model() -> simaccel.model.Model:
    """A dense layer of K = 140 000 with every input and weight at the int8 maximum:
    140 000 · 127 · 127 ≈ 2.26·10⁹ > 2³¹ − 1."""
    k = 140_000
    base = model([{"name": "d", "op": "dense", "inputs": ["x"], "units": 2, "bias": False}],
                 [{"name": "x", "shape": [1, k]}])
    return replace(base, weights={"d.kernel": np.ones((k, 2))})


def test_int32_accumulator_overflow_is_reported_not_wrapped() -> None:
    hw = _hw(side=8, kib=64)
    report = simaccel.simulate(_overflowing_model(), hw, check=True,
                               inputs={"x": np.ones((1, 140_000))})
    (check,) = [layer["check"] for layer in report.to_dict()["layers"]]
    assert check["status"] == "fail" and check["overflow"] is True
    assert "overflow" in check["note"]


def test_int16_operands_overflow_int32_accumulators_and_say_so() -> None:
    """Full-scale int16 products are ~2³⁰: three of them overflow an int32 accumulator.
    The GEMMs with long sums (conv1, conv2, fc1) are flagged (fc2's 64 products may or may not,
    depending on the drawn weights); accumulators are still exact (computed, not wrapped),
    and the outputs are far more precise than int8's."""
    hw = _hw(dataflow="ws", dtypes=("int16", "int16", "int32"), kib=8)
    report = simaccel.simulate(simaccel.load_model(WORKLOADS / "mnist_cnn.json"), hw, check=True)
    for layer in report.to_dict()["layers"]:
        check = layer["check"]
        assert check["max_abs_error"] == 0 and check["sqnr_db"] > 60
        if layer["kernel"]["type"] == "vector" or layer["name"] != "fc2":
            assert check["overflow"] is (layer["kernel"]["type"] == "gemm")
        assert check["status"] == ("fail" if check["overflow"] else "pass")
        if check["overflow"]:
            assert check["note"] == ("int32 accumulator overflow (int16 products take 30 bits: "
                                     "accumulate in int48)")


def test_int16_operands_with_int48_accumulators_pass_bit_exact() -> None:
    """With 48-bit accumulators (int16 datapaths' width: DSP48 slices) the same sums, up to
    K = 1,600 products of 2³⁰ (~2⁴⁰.⁶), fit: every GEMM is bit-exact and none overflows —
    found by a newcomer: int16 with the only integer accumulator there was failed every
    model. An int8 config may choose int48 too; an fp32 accumulator for int operands is
    refused."""
    hw = _hw(dataflow="ws", dtypes=("int16", "int16", "int48"), kib=8)
    report = simaccel.simulate(simaccel.load_model(WORKLOADS / "mnist_cnn.json"), hw, check=True)
    checks = [layer["check"] for layer in report.to_dict()["layers"]]
    assert all(c["status"] == "pass" and not c["overflow"] for c in checks)
    assert all(c["max_abs_error"] == 0 for c in checks)
    with pytest.raises(simaccel.InputError, match="accumulate in int32 or int48"):
        _hw(dataflow="ws", dtypes=("int16", "int16", "fp32"), kib=8)


def test_a_failed_check_exits_3_and_names_the_layer(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    toml = (WORKLOADS.parent / "hw_configs" / "gemmini.toml").read_text()
    toml = toml.replace('input = "int8"', 'input = "int16"').replace(
        'weight = "int8"', 'weight = "int16"')
    (tmp_path / "g16.toml").write_text(toml)
    code = main(["simulate", str(WORKLOADS / "mnist_cnn.json"), "--hw", str(tmp_path / "g16.toml"),
                 "--out", str(tmp_path / "o")])
    assert code == 3
    err = capsys.readouterr().err
    assert ("numerics check failed in 'conv1' (int32 accumulator overflow (int16 products "
            "take 30 bits: accumulate in int48))") in err
    report = strict_json((tmp_path / "o" / "report.json").read_text())
    assert report["layers"][0]["check"]["overflow"] is True


def test_no_check_skips_numerics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(WORKLOADS / "mnist_cnn.json"), "--no-check", "--json"]) == 0
    layers = strict_json(capsys.readouterr().out)["layers"]
    assert {layer["check"]["status"] for layer in layers} == {"skipped"}


def _dense_with_npz(tmp_path: Path, arrays: dict):
    """A 4 → 3 dense layer ``d`` whose weights file holds ``arrays``."""
    doc = {"format": "simaccel-model/1", "name": "w", "weights": "w.npz",
           "inputs": [{"name": "x", "shape": [1, 4]}],
           "layers": [{"name": "d", "op": "dense", "inputs": ["x"], "units": 3}]}
    np.savez(tmp_path / "w.npz", **arrays)
    (tmp_path / "m.json").write_text(json.dumps(doc))
    return simaccel.load_model(tmp_path / "m.json")


def test_weights_come_from_the_npz(tmp_path: Path) -> None:
    kernel = np.arange(12.0).reshape(4, 3)
    loaded = _dense_with_npz(tmp_path, {"d.kernel": kernel, "d.bias": np.zeros(3)})
    report = simaccel.simulate(loaded, _hw(kib=8), check=True,
                               inputs={"x": np.array([[1.0, 0, 0, 1]])})
    expected = kernel[0] + kernel[3]
    assert np.allclose(report.numerics.fp_outputs["d"], expected)
    assert np.allclose(report.numerics.outputs["d"], expected, rtol=0.01)


def test_npz_with_a_wrong_shape_names_the_key(tmp_path: Path) -> None:
    model = _dense_with_npz(tmp_path, {"d.kernel": np.ones((5, 3))})
    with pytest.raises(simaccel.InputError) as caught:
        simaccel.simulate(model, _hw(kib=8), check=True)
    assert caught.value.field == "d.kernel" and "[5, 3]" in caught.value.message


def test_npz_missing_a_parameter_names_it(tmp_path: Path) -> None:
    """A weights file that lacks a parameter is an error, not a silent random draw."""
    model = _dense_with_npz(tmp_path, {"d.kernel": np.ones((4, 3))})
    with pytest.raises(simaccel.InputError) as caught:
        simaccel.simulate(model, _hw(kib=8), check=True)
    assert caught.value.field == "d.bias" and "missing" in caught.value.message


# --- properties ------------------------------------------------------------------------------

@st.composite
def conv_cases(draw: st.DrawFn) -> tuple[dict, dict, Hardware]:
    groups = draw(st.sampled_from([1, 2, 4]))
    channels = groups * draw(st.integers(1, 3))
    filters = groups * draw(st.integers(1, 4))
    size = draw(st.integers(5, 11))
    layer = {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": filters,
             "kernel": draw(st.integers(1, 3)), "stride": draw(st.integers(1, 3)),
             "dilation": draw(st.integers(1, 2)), "groups": groups,
             "padding": draw(st.sampled_from(["same", "valid", [1, 0, 2, 1]])),
             "activation": draw(st.sampled_from([None, "relu", "gelu"]))}
    if layer["activation"] is None:
        del layer["activation"]
    follow = draw(st.sampled_from([None, "maxpool2d", "avgpool2d", "global_avgpool"]))
    layers = [layer]
    if follow:
        layers.append({"name": "p", "op": follow, "inputs": ["c"]} | (
            {"pool": 2, "padding": "same"} if follow != "global_avgpool" else {}))
    dtypes = draw(st.sampled_from([("int8", "int8", "int32"), ("int16", "int16", "int32"),
                                   ("bf16", "bf16", "fp32"), ("fp32", "fp32", "fp32")]))
    hw = _hw(dataflow=draw(st.sampled_from(["os", "ws", "is"])), side=draw(st.sampled_from([2, 4])),
             kib=draw(st.sampled_from([0.25, 0.5, 2, 64])), dtypes=dtypes,
             double=draw(st.booleans()))
    inputs = {"name": "x", "shape": [draw(st.integers(1, 2)), size, size, channels]}
    return {"layers": layers, "inputs": [inputs]}, layer, hw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases())
def test_tiled_schedules_match_the_reference(case: tuple) -> None:
    """Any small conv (stride, padding, dilation, groups), dtype, dataflow and buffer size:
    every kernel's check passes (bit-exact accumulators for integer types); int16 may
    legitimately overflow its int32 accumulator, which must then be the reason."""
    doc, layer, hw = case
    try:
        report = simaccel.simulate(model(doc["layers"], doc["inputs"]), hw, check=True)
    except simaccel.InputError as exc:  # a buffer that holds nothing is a valid answer
        assert exc.field.startswith("sram.") and "too small" in exc.message or \
            "cannot hold anything" in exc.message
        return
    for layer in report.to_dict()["layers"]:
        check = layer["check"]
        assert check["status"] == "pass" or (check["overflow"] and hw.dtypes.input.value ==
                                             "int16" and check["max_abs_error"] == 0)


def test_sqnr_of_a_broken_result_is_minus_infinity_and_masks_are_not_signal() -> None:
    """NaN or ±inf where the reference is finite is no signal recovered: −inf dB (it was
    +inf: the non-finite values were masked away, leaving no noise). A mask's −inf in the
    reference is left out, so [3, 4] against [3, 4] beside it is still exact (+inf)."""
    from simaccel.numerics.quant import sqnr_db

    assert sqnr_db(np.array([1.0, 2.0]), np.array([1.0, np.nan])) == -np.inf
    assert sqnr_db(np.array([1.0, 2.0]), np.array([np.inf, 2.0])) == -np.inf
    assert sqnr_db(np.array([3.0, -np.inf, 4.0]), np.array([3.0, -127.0, 4.0])) == np.inf
    assert sqnr_db(np.array([3.0, 4.0]), np.array([3.0, 4.5])) == pytest.approx(
        10 * np.log10(25 / 0.25))


def test_fp_model_on_its_helper_thread_is_the_serial_fp_model():
    """The check draws the parameters and runs the fp model on a helper thread, layer by
    layer ahead of the main thread (docs/architecture.md, "Numerics"): the same values as
    drawing everything and running `fp_model` in one thread, bit for bit, on a model with
    branches, batchnorm and a dense head."""
    from simaccel.numerics import check, weights
    from simaccel.pipeline import prepare

    graph = prepare(simaccel.load_model(WORKLOADS / "resnet18.json")).graph
    inputs = weights.input_tensors(graph)
    params = weights.model_params(graph)
    serial = check.fp_model(graph, params, inputs)
    with check.Helpers() as helpers:
        fp = check.FpModel(graph, weights.layer_params(graph), weights.param_layers(graph),
                           inputs, helpers)
        assert list(fp.params) == list(params)
        for name in reversed(graph.order):  # waits for the last first
            assert np.array_equal(fp.tensors[name], serial[name]), name
        for layer, values in params.items():
            assert values.keys() == fp.params[layer].keys()
            assert all(np.array_equal(v, fp.params[layer][k]) for k, v in values.items())
        with pytest.raises(KeyError):
            fp.tensors["no such tensor"]


def test_an_error_on_the_helper_thread_reaches_the_caller():
    """What the fp model's helper raises (here a stored weights file that lacks a
    parameter) is raised where the check reads the value, not lost in the thread."""
    from simaccel.errors import InputError
    from simaccel.numerics import check, weights
    from simaccel.pipeline import prepare

    graph = prepare(simaccel.load_model(WORKLOADS / "mnist_cnn.json")).graph
    stored = {f"{layer}.{key}": value for layer, values in weights.model_params(graph).items()
              for key, value in values.items() if layer != "fc2"}
    with check.Helpers() as helpers:
        fp = check.FpModel(graph, weights.layer_params(graph, stored),
                           weights.param_layers(graph), weights.input_tensors(graph), helpers)
        with pytest.raises(InputError, match="fc2.kernel"):
            fp.tensors[graph.order[0]]


def test_a_mask_stays_a_mask_in_an_integer_tensor():
    """Hugging Face's causal masks add float32's lowest (−3.4e38) where ±inf would do: in
    int8 it must neither set the tensor's scale (every real score would round to 0) nor
    saturate to −127 steps (it would no longer mask: softmax would attend to the future).
    Llama's int8 export went from 34 dB to 8 dB when masks saturated."""
    from simaccel.numerics.quant import MASK_MAGNITUDE, to_accelerator

    x = np.array([-3.4028234663852886e38, -np.inf, 0.5, -0.25, np.nan])
    held = to_accelerator(x, DType.INT8)
    assert held.scale == 0.5 / 127  # set by the real values only
    assert held.values[2:4].tolist() == [127.0, -64.0]
    real = held.real()
    assert real[0] <= -MASK_MAGNITUDE and real[1] == -np.inf and np.isnan(real[4])
    probs = reference.softmax(real[None, :4], -1)[0]
    assert probs[0] == 0.0 and probs[1] == 0.0 and probs[2] + probs[3] == pytest.approx(1.0)
    # the masked positions are not signal: the SQNR is the real values'
    assert sqnr_db(x[:4], real[:4]) == sqnr_db(x[2:4], real[2:4])


def test_an_overflow_of_the_bias_alone_says_so(tmp_path, capsys):
    """Inputs of 1e-7 make the int8 scales tiny, so a bias of ordinary size is billions of
    accumulator steps: the int32 overflow is the bias's, not a partial sum's, and the
    message says so (a tester read the plain "accumulator overflow" as a scheduling fault)."""
    x = np.random.default_rng(0).uniform(-1e-7, 1e-7, (1, 28, 28, 1))
    np.save(tmp_path / "tiny.npy", x)
    code = main(["simulate", str(WORKLOADS / "mnist_cnn.json"), "--quiet",
                 "--input", f"image={tmp_path / 'tiny.npy'}"])
    err = capsys.readouterr().err
    assert code == 3
    assert "int32 accumulator overflow of the bias alone" in err
