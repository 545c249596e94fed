"""Training on the accelerator: the step's kernels (MACs, operand roles, bytes), its
gradients (against finite differences and the float64 reference), the optimizer and the
command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import simaccel
from simaccel.backward import training_step
from simaccel.cli import main
from simaccel.domain import DType, Operand
from simaccel.graph import build_graph
from simaccel.kernels import GemmKernel
from simaccel.numerics.training import StepExecutor, Updater, initial_params
from simaccel.program import Opcode
from simaccel.training import Optimizer
from simaccel.training_run import build_step, compile_step, simulate_step, training_hardware
from tests.helpers import model, strict_json

ROOT = Path(__file__).resolve().parent.parent
DIGITS = str(ROOT / "workloads" / "digits_cnn.json")


def _step(name: str, optimizer: Optimizer = Optimizer.SGD):
    graph = build_graph(simaccel.load_model(str(ROOT / "workloads" / f"{name}.json")))
    return graph, training_step(graph, optimizer)


def test_resnet18_step_is_three_forwards_less_the_first_convs_input_gradient() -> None:
    """Forward 1,814,073,344 MACs; every GEMM's dW and dX have its MACs, except conv1's dX
    (the image needs no gradient): 112·112·64·(7·7·3) = 118,013,952."""
    graph, step = _step("resnet18")
    forward = sum(k.macs for k in step.kernels[:len(graph.order)])
    assert forward == 1_814_073_344
    assert step.macs == 3 * 1_814_073_344 - 112 * 112 * 64 * 7 * 7 * 3 == 5_324_206_080


def test_bert_layer_step_skips_the_input_gradients_of_q_k_v() -> None:
    """Forward 931,135,488 MACs; the model input x needs no gradient, so q, k and v have no
    dX: 3 · 128·768·768 fewer."""
    graph, step = _step("bert_base_encoder")
    assert sum(k.macs for k in step.kernels[:len(graph.order)]) == 931_135_488
    assert step.macs == 3 * 931_135_488 - 3 * 128 * 768 * 768 == 2_566_914_048
    # both attention matmuls have two gradient GEMMs with activations on both sides
    grads = [k for k in step.kernels if k.op in ("matmul.dA", "matmul.dB")]
    assert len(grads) == 4 and all(k.filter_is_activation for k in grads)


def test_weight_gradient_operands_are_activations_and_input_gradient_reads_weights() -> None:
    graph, step = _step("digits_cnn")
    kernels = {k.name: k for k in step.kernels}
    dw, dx = kernels["conv2.dW"], kernels["conv2.dX"]
    assert isinstance(dw, GemmKernel) and dw.filter_is_activation
    assert dw.inputs == ("pool1", "conv2.pre.grad")
    assert (dw.m, dw.k, dw.n) == (9 * 16, 1 * 4 * 4, 32)  # Xᵀ [144 × B·H·W] · G, batch 1
    assert isinstance(dx, GemmKernel) and not dx.filter_is_activation
    hw = training_hardware(simaccel.load_hardware("tpu_v1"), "bf16")
    _, program, _, _ = compile_step(build_step(with_batch_1(), hw, Optimizer.SGD), hw)
    index = [k.name for k in program.kernels].index("conv2.dW")
    filters = {ins.tensor for ins in program.instructions
               if ins.kernel == index and ins.op is Opcode.LOAD
               and ins.operand is Operand.FILTER}
    assert filters <= {"conv2.pre.grad"}  # the gradient, never a weights tensor
    matmuls = [ins for ins in program.instructions
               if ins.kernel == index and ins.op is Opcode.MATMUL]
    assert matmuls and all(len(ins.reads) == 2 for ins in matmuls)


def with_batch_1():
    return simaccel.load_model(DIGITS)


def test_adam_update_reads_and_writes_master_weights_and_two_moments() -> None:
    """fc2: 64·10 + 10 = 650 parameters. In bf16 (2 bytes) an fp32 tensor is 2 elements:
    the update reads the gradient (650) and master weights, m and v (3·650·2 = 3,900) and
    writes those back plus the bf16 working copy (3,900 + 650); 12 ops per parameter."""
    hw = training_hardware(simaccel.load_hardware("tpu_v1"), "bf16")
    step = build_step(simaccel.load_model(DIGITS), hw, Optimizer.ADAM)
    update = next(k for k in step.kernels if k.name == "fc2.update")
    assert update.input_elements == 650 + 3900
    assert update.elements == 3900 + 650
    assert update.vector_ops >= 650 * 12
    assert step.states["fc2.state"] == 3900
    sgd = build_step(simaccel.load_model(DIGITS), hw, Optimizer.SGD)
    assert next(k for k in sgd.kernels if k.name == "fc2.update").input_elements == 650 + 1300


def test_recompute_trades_macs_for_stashed_bytes() -> None:
    hw = training_hardware(simaccel.load_hardware("tpu_v1"), "bf16")
    plain = simulate_step(simaccel.load_model(DIGITS), hw, batch=8, trace=False)
    again = simulate_step(simaccel.load_model(DIGITS), hw, batch=8, recompute=True,
                          trace=False)
    assert again.step.macs > plain.step.macs
    assert again.stashed_bytes < plain.stashed_bytes
    assert plain.peak_activation_bytes <= plain.on_chip_bytes


# A small network that exercises every backward path digits does and more: a grouped,
# dilated convolution (col2im with groups and dilation), a strided padded one, a residual
# add, max and global average pooling, a standalone softmax at the output.
SMALL = [
    {"name": "c1", "op": "conv2d", "inputs": ["x"], "filters": 4, "kernel": 3,
     "padding": "same", "activation": "tanh"},
    {"name": "c2", "op": "conv2d", "inputs": ["c1"], "filters": 4, "kernel": 3,
     "padding": "same", "dilation": 2, "groups": 2, "activation": "sigmoid"},
    {"name": "sum", "op": "add", "inputs": ["c1", "c2"]},
    {"name": "pool", "op": "maxpool2d", "inputs": ["sum"], "pool": 2},
    {"name": "c3", "op": "conv2d", "inputs": ["pool"], "filters": 6, "kernel": 3,
     "stride": 2, "padding": [1, 1]},
    {"name": "gap", "op": "global_avgpool", "inputs": ["c3"]},
    {"name": "fc", "op": "dense", "inputs": ["gap"], "units": 5},
    {"name": "prob", "op": "softmax", "inputs": ["fc"]},
]


# Attention-like: dense layers on a [batch, sequence, features] input, batchnorm (batch
# statistics), an inline GELU, a scaled matmul with transpose_b, softmax, a second matmul,
# a residual add, layernorm, flatten and a softmax classifier.
ATTENTION = [
    {"name": "q", "op": "dense", "inputs": ["x"], "units": 6},
    {"name": "bn", "op": "batchnorm", "inputs": ["q"]},
    {"name": "k", "op": "dense", "inputs": ["x"], "units": 6, "activation": "gelu"},
    {"name": "v", "op": "dense", "inputs": ["x"], "units": 6},
    {"name": "s", "op": "matmul", "inputs": ["bn", "k"], "transpose_b": True, "scale": 0.5},
    {"name": "p", "op": "softmax", "inputs": ["s"]},
    {"name": "c", "op": "matmul", "inputs": ["p", "v"]},
    {"name": "r", "op": "add", "inputs": ["c", "bn"]},
    {"name": "ln", "op": "layernorm", "inputs": ["r"]},
    {"name": "f", "op": "flatten", "inputs": ["ln"]},
    {"name": "o", "op": "dense", "inputs": ["f"], "units": 3, "activation": "softmax"},
]
NETWORKS = {"conv": (SMALL, (3, 8, 8, 2), [1, 4, 2]),
            "attention": (ATTENTION, (2, 4, 6), [2, 0])}


def _small(dtype: str, network: str = "conv"):
    layers, shape, labels = NETWORKS[network]
    m = model(layers, inputs=[{"name": "x", "shape": list(shape)}], seed=3)
    hw = training_hardware(simaccel.load_hardware("scalesim_default"), dtype)
    step = build_step(m, hw, Optimizer.SGD)
    _, program, _, _ = compile_step(step, hw)
    rng = np.random.default_rng(0)
    return m, hw, step, program, rng.normal(size=shape), np.array(labels)


@pytest.mark.parametrize(("network", "layers"), [
    ("conv", {"c1", "c2", "c3", "fc"}), ("attention", {"q", "bn", "k", "v", "ln", "o"})])
def test_every_gradient_matches_finite_differences(network: str, layers: set[str]) -> None:
    """Central differences (h = 1e-6) of the float64 loss against the reference's
    gradients, for every parameter element of every layer."""
    m, hw, step, program, x, y = _small("fp32", network)
    ref = StepExecutor(step, program, hw, reference=True)
    params = initial_params(m, step, seed=1)
    _, grads = ref.gradients(params, x, y)
    assert set(grads) == layers
    h = 1e-6
    for layer, tensors in grads.items():
        for key, g in tensors.items():
            numeric = np.zeros_like(g)
            for i in np.ndindex(g.shape):
                saved = params[layer][key][i]
                params[layer][key][i] = saved + h
                up = ref.forward(params, x, y).loss
                params[layer][key][i] = saved - h
                down = ref.forward(params, x, y).loss
                params[layer][key][i] = saved
                numeric[i] = (up - down) / (2 * h)
            assert np.allclose(g, numeric, rtol=1e-5, atol=1e-8), (layer, key)


@pytest.mark.parametrize("network", ["conv", "attention"])
@pytest.mark.parametrize(("dtype", "tolerance"), [("fp32", 1e-5), ("bf16", 0.05)])
def test_program_numerics_gradients_match_the_float64_reference(dtype: str, tolerance: float,
                                                                network: str) -> None:
    """The Program's execution in the config's types against float64: fp32 within a few
    fp32 roundings per tensor (relative to its layer's largest gradient), bf16 within a few
    bf16 ones (8-bit significand: 2⁻⁸ per rounding, compounded over ~6 layers)."""
    m, hw, step, program, x, y = _small(dtype, network)
    params = initial_params(m, step, seed=1)
    _, want = StepExecutor(step, program, hw, reference=True).gradients(params, x, y)
    _, got = StepExecutor(step, program, hw).gradients(params, x, y)
    for layer, tensors in want.items():
        for key, g in tensors.items():
            # relative to the layer's largest gradient: q's bias feeds a batchnorm, which
            # removes it, so its own gradient is ~1e-16 and only rounding is left
            scale = max(np.linalg.norm(t) for t in tensors.values())
            error = np.linalg.norm(got[layer][key] - g) / scale
            assert error < tolerance, (layer, key, error)
    if dtype == "bf16":  # the accelerator's gradients are bf16 values
        g = got["c2" if network == "conv" else "k"]["kernel"]
        bits = g.astype(np.float32).view(np.uint32)
        assert np.all(bits & 0xFFFF == 0)


def test_sgd_and_adam_first_step_by_hand() -> None:
    """SGD: w − η·g exactly. Adam's first step: m̂ = g, v̂ = g², so w moves by η·g/(|g|+ε):
    η·sign(g) to within ε/|g|."""
    g = np.array([0.5, -0.25, 2.0])
    params = {"l": {"kernel": np.array([1.0, 1.0, 1.0])}}
    Updater(Optimizer.SGD, 0.1, lambda v: v).apply(params, {"l": {"kernel": g}})
    assert params["l"]["kernel"].tolist() == [1 - 0.1 * 0.5, 1 + 0.1 * 0.25, 1 - 0.1 * 2.0]
    params = {"l": {"kernel": np.array([1.0, 1.0, 1.0])}}
    Updater(Optimizer.ADAM, 0.01, lambda v: v).apply(params, {"l": {"kernel": g}})
    assert np.allclose(params["l"]["kernel"], 1 - 0.01 * np.sign(g), atol=1e-9)


def test_fp16_loss_scaling_skips_an_overflowing_step_and_halves_the_scale() -> None:
    m, hw, step, program, x, y = _small("fp16")
    executor = StepExecutor(step, program, hw)
    assert executor.loss_scale == 2.0**16
    assert not executor.scaled_ok({"fc": {"kernel": np.array([np.inf, 1.0])}})
    assert executor.loss_scale == 2.0**15 and executor.skipped == 1
    assert executor.scaled_ok({"fc": {"kernel": np.array([1.0])}})


def test_simulate_train_prints_the_step_and_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", DIGITS, "--train", "--hw", "tpu_v1", "--precision", "bf16",
                 "--batch", "8", "--optimizer", "adam"]) == 0
    out = capsys.readouterr().out
    for text in ("conv2.dW", "conv2.dX", "fc2.update", "bwd/fwd", "stashed activations",
                 "peak live activations", "× the forward pass"):
        assert text in out


def test_simulate_train_json_has_the_training_section(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert main(["simulate", DIGITS, "--train", "--hw", "tpu_v1", "--precision", "fp32",
                 "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    training = data["training"]
    assert training["macs"] == data["total"]["macs"]
    assert training["parameters"] == 16 * 9 + 16 + 32 * 144 + 32 + 128 * 64 + 64 + 650
    assert 0 < training["peak_activation_bytes"] <= training["on_chip_bytes"]
    assert {row["layer"] for row in training["layers"]} >= {"conv1", "fc2"}


@pytest.mark.parametrize("argv", [
    ["--hw", "tpu_v1"],                            # int8 does not train
    ["--hw", "tpu_v1", "--precision", "bf16", "--check"],
])
def test_simulate_train_bad_input_is_one_line(argv: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", DIGITS, "--train", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("simaccel: ")


def test_train_flags_without_train_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", DIGITS, "--batch", "4"]) == 2
    assert "--batch" in capsys.readouterr().err


def test_training_through_the_program_learns_and_tracks_the_reference() -> None:
    """Two epochs of the digits CNN from scratch on 320 training digits (10 steps of 32
    an epoch), bf16 on tpu_v1, every GEMM executed from the Program: the train loss falls,
    accuracy on 240 held-out digits is far above chance (10%), and the float64
    run from the same weights and batches is close behind or ahead. Full runs (≥ 97%) are
    a documented figure (docs/architecture.md, "Training"), not a CI test."""
    pytest.importorskip("sklearn")
    from simaccel.datasets import Dataset, split_digits
    from simaccel.numerics.training import TrainConfig
    from simaccel.trainer import train

    full = split_digits()
    data = Dataset("digits", full.x_train[:320], full.y_train[:320], full.x_test[:240],
                   full.y_test[:240])
    hw = training_hardware(simaccel.load_hardware("tpu_v1"), "bf16")
    lines: list[str] = []
    run = train(simaccel.load_model(DIGITS), hw, TrainConfig(epochs=2), data, lines.append,
                reference=True)
    losses = [e.train_loss for e in run.epochs]
    assert losses[0] > losses[1]
    assert run.epochs[-1].accuracy > 0.3
    assert run.reference_accuracy is not None
    assert abs(run.epochs[-1].accuracy - run.reference_accuracy) < 0.1
    assert all(e.steps == 10 and e.seconds > 0 and e.energy_pj > 0 for e in run.epochs)
    assert lines[0].startswith("Epoch 1 Train Loss ") and " Test Loss " in lines[0] \
        and " Acc " in lines[0] and "µJ" in lines[0]


def test_train_with_integer_types_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", DIGITS, "--data", "digits", "--hw", "edge_tpu_like"]) == 2
    assert "dtypes.input" in capsys.readouterr().err


def test_an_op_without_a_backward_is_bad_input() -> None:
    m = model([{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 2, "kernel": 1},
               {"name": "o", "op": "opaque", "inputs": ["c"], "onnx_op": "Foo",
                "shape": [1, 8, 8, 2]}])
    hw = training_hardware(simaccel.load_hardware("scalesim_default"), "fp32")
    with pytest.raises(simaccel.InputError, match=r"layers\[1\].*no backward"):
        build_step(m, hw, Optimizer.SGD)


def test_the_api_refuses_integer_types_and_takes_a_precision() -> None:
    m = simaccel.load_model(DIGITS)
    with pytest.raises(simaccel.InputError, match="dtypes.input"):
        simaccel.simulate_step(m, simaccel.load_hardware("tpu_v1"), "adam")
    r = simaccel.simulate_step(m, simaccel.load_hardware("tpu_v1"), "adam", precision="bf16",
                               trace=False)
    assert r.step.optimizer is Optimizer.ADAM and r.report.hardware.dtypes.input is DType.BF16


def test_dtype_of_training_hardware() -> None:
    hw = training_hardware(simaccel.load_hardware("edge_tpu_like"), "fp16")
    assert (hw.dtypes.input, hw.dtypes.weight, hw.dtypes.accumulator) == (
        DType.FP16, DType.FP16, DType.FP32)


def test_simulate_train_out_writes_the_report_and_training_json(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["simulate", DIGITS, "--train", "--hw", "tpu_v1", "--precision", "bf16",
                 "--out", str(out), "--quiet"]) == 0
    training = strict_json((out / "training.json").read_text())
    report = strict_json((out / "report.json").read_text())
    assert training["macs"] == report["total"]["macs"] == 266_112  # batch 1: 2.9 × 91,776
    assert {"report.json", "layers.csv", "trace.json", "training.json"} <= {
        p.name for p in out.iterdir()}


def test_simulate_train_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--plots hands the step's report and trace to the plot writer (drawing itself is
    tests/test_plots.py's)."""
    import simaccel.plots

    seen = []

    def fake(report, trace, folder, timeline):
        seen.append((len(report["layers"]), len(trace["traceEvents"]) > 0))
        return []

    monkeypatch.setattr(simaccel.plots, "write_plots", fake)
    out = tmp_path / "run"
    assert main(["simulate", DIGITS, "--train", "--hw", "gemmini", "--precision", "bf16",
                 "--out", str(out), "--plots", "--quiet"]) == 0
    assert seen == [(28, True)]  # the step's 28 kernels


@pytest.mark.parametrize("lr", ["0", "-1", "nan", "inf"])
def test_train_refuses_a_learning_rate_out_of_range(lr: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", DIGITS, "--data", "digits", "--hw", "tpu_v1", "--lr", lr])
    assert exc.value.code == 2


def test_train_a_model_that_does_not_take_the_images_is_bad_input(
        capsys: pytest.CaptureFixture[str]) -> None:
    mnist = str(ROOT / "workloads" / "mnist_cnn.json")  # 28×28 inputs, digits are 8×8
    assert main(["train", mnist, "--data", "digits", "--hw", "tpu_v1", "--precision",
                 "bf16"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mnist_cnn.json: inputs:" in err
