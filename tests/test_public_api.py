"""The public API (``simaccel.<name>``, docs/teaching.md "What students may use"): every
function the labs use gives a figure derived by hand (or the CLI's for the same input, a
different entry to the same model) and refuses bad input with an `InputError` naming the
parameter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import simaccel
from simaccel.cli import main
from simaccel.teaching import gemm_model

ROOT = Path(__file__).resolve().parent.parent
DIGITS = str(ROOT / "workloads" / "digits_cnn.json")


def _refused(field: str, call, *args, **kwargs) -> simaccel.InputError:
    with pytest.raises(simaccel.InputError) as caught:
        call(*args, **kwargs)
    assert caught.value.field == field, str(caught.value)
    return caught.value


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in simaccel.__all__:
        assert getattr(simaccel, name) is not None
    assert set(simaccel.__all__) == {"InputError", "SimaccelError", *simaccel._LAZY}
    from simaccel import quant  # a public module under a short name

    assert quant.__name__ == "simaccel.numerics.quant"


# --- one model, one chip -------------------------------------------------------------------

def test_lower_gives_the_digits_cnn_gemms() -> None:
    # conv1: 8×8 output pixels, K = 3·3·1, 16 filters; conv2 after a 2×2 pool: 4×4, 3·3·16, 32
    gemms = [(k.name, k.m, k.k, k.n) for k in simaccel.lower(DIGITS) if k.kind == "gemm"]
    assert gemms == [("conv1", 64, 9, 16), ("conv2", 16, 144, 32), ("fc1", 1, 128, 64),
                     ("fc2", 1, 64, 10)]
    _refused("model", simaccel.lower, 42)


def test_with_batch_multiplies_every_gemms_m() -> None:
    batched = simaccel.with_batch(DIGITS, 5)
    assert batched.inputs[0].shape == (5, 8, 8, 1)
    assert [k.m for k in simaccel.lower(batched) if k.kind == "gemm"] == [320, 80, 5, 5]
    _refused("batch", simaccel.with_batch, DIGITS, 0)
    _refused("batch", simaccel.with_batch, DIGITS, True)


def test_prune_zeroes_what_it_says() -> None:
    model = gemm_model(4, 8, 3)                          # K = 8: two runs of 4 per column
    nm = simaccel.prune(model, "nm", pattern="2:4").weights["fc.kernel"]
    assert int((nm != 0).sum()) == 2 * 2 * 3             # 2 of every 4, 2 runs, 3 columns
    half = simaccel.prune(model, "magnitude", sparsity=0.5).weights["fc.kernel"]
    assert int((half == 0).sum()) == 12                  # half of the 24 weights
    _refused("sparsity", simaccel.prune, model, "magnitude", sparsity=1.0)
    _refused("pattern", simaccel.prune, model, "nm", pattern="3:5")
    _refused("method", simaccel.prune, model, "random", sparsity=0.5)


def test_design_points_are_the_grid_in_order() -> None:
    spec = {"base": "tpu_v1", "workloads": [DIGITS],
            "grid": {"array.rows": [8, 16], "dram.bandwidth_gbps": [1, 2]}}
    assert simaccel.design_points(spec) == [
        {"array.rows": 8, "dram.bandwidth_gbps": 1}, {"array.rows": 8, "dram.bandwidth_gbps": 2},
        {"array.rows": 16, "dram.bandwidth_gbps": 1},
        {"array.rows": 16, "dram.bandwidth_gbps": 2}]
    _refused("grid.'array.nonsense'", simaccel.design_points,
             {**spec, "grid": {"array.nonsense": [1]}})


def test_estimate_area_and_energy_table_give_the_published_figures() -> None:
    # TPU v1: the 256×256 MXU is 24% of its 331 mm² die (Jouppi et al., ISCA 2017)
    assert simaccel.estimate_area("tpu_v1").array_mm2 == pytest.approx(0.24 * 331)
    assert simaccel.AREA_PRESETS["tpu_v1_28nm"]["pe_mm2"]["int8"] == pytest.approx(
        0.24 * 331 / 65536)
    # Horowitz, ISSCC 2014: an int8 MAC 0.3 pJ (0.2 multiply + 0.03 add, rounded as the
    # preset says); DRAM 1.95 nJ per 64-bit access = 243.75 pJ per byte
    table = simaccel.energy_table("scalesim_default")
    assert table.mac_pj == pytest.approx(0.3)
    assert table.dram_pj_per_byte == pytest.approx(1950 / 8)
    _refused("hw", simaccel.estimate_area, 3)
    _refused("hw", simaccel.energy_table, None)


def test_fold_cycles_are_stream_plus_fill_and_drain() -> None:
    assert simaccel.fold_cycles("os", 9, 8, 8) == 9 + 8 + 8 - 2
    assert simaccel.fold_cycles(simaccel.Dataflow.WS, 9, 8, 8) == 9 + 2 * 8 + 8 - 2
    assert simaccel.DATAFLOW_MAPPING[simaccel.Dataflow.OS] == ("m", "n", "k")
    _refused("dataflow", simaccel.fold_cycles, "rs", 9, 8, 8)
    _refused("stream", simaccel.fold_cycles, "os", 0, 8, 8)


# --- systems of chips ----------------------------------------------------------------------

def test_interconnect_is_the_configs_links_in_cycles() -> None:
    net = simaccel.interconnect("tpu_v4_like_x8")       # 8 chips, 50 GB/s, 1 µs, 1050 MHz
    assert (net.nodes, net.latency_cycles) == (8, 1050)
    assert net.bytes_per_cycle == pytest.approx(50e9 / 1050e6)
    _refused("level", simaccel.interconnect, "tpu_v4_like_x8", level="board")


def test_collective_ring_all_reduce_is_the_alpha_beta_formula(
        capsys: pytest.CaptureFixture[str]) -> None:
    p, n = 8, 8 << 20
    run = simaccel.collective("all_reduce", n, "tpu_v4_like_x8")
    beta = 50e9 / 1050e6                                 # bytes a cycle on one link
    assert run.cycles == 2 * (p - 1) * (1050 + math.ceil(math.ceil(n / p) / beta))
    assert main(["collective", "all_reduce", "--bytes", str(n), "--hw", "tpu_v4_like_x8"]) == 0
    assert f"{run.cycles:,} cycles" in capsys.readouterr().out
    _refused("kind", simaccel.collective, "broadcast", n, "tpu_v4_like_x8")
    _refused("nbytes", simaccel.collective, "all_reduce", 0, "tpu_v4_like_x8")


def test_partition_model_is_the_clis(capsys: pytest.CaptureFixture[str]) -> None:
    run = simaccel.partition_model(DIGITS, "tpu_v4_like_x8", "pipeline", batch=4)
    assert main(["partition", DIGITS, "--hw", "tpu_v4_like_x8", "--parallel", "pipeline",
                 "--batch", "4", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert [s.cycles for s in run.stages] == [s["cycles"] for s in cli["stages"]]
    assert run.batch_cycles / 1050e3 == pytest.approx(cli["batch_ms"])
    # four micro-batches through the stages: the latency, then one interval each
    assert run.batch_cycles == run.latency_cycles + 3 * run.interval_cycles
    data = simaccel.partition_model(DIGITS, "tpu_v4_like_x8", "data", batch=20)
    assert data.batch_cycles == math.ceil(20 / 8) * data.latency_cycles
    _refused("parallel", simaccel.partition_model, DIGITS, "tpu_v4_like_x8", "model")
    _refused("objective", simaccel.partition_model, DIGITS, "tpu_v4_like_x8", "auto",
             objective="area")
    _refused("batch", simaccel.partition_model, DIGITS, "tpu_v4_like_x8", "data", batch=0)


def test_partition_model_tensor_plan_is_the_clis(capsys: pytest.CaptureFixture[str]) -> None:
    """Tensor parallelism through the API: the same per-kernel strategies, cycles and
    communication share as ``simaccel partition --parallel tensor --json``."""
    run = simaccel.partition_model(DIGITS, "tpu_v4_like_x8", "tensor", batch=2)
    assert main(["partition", DIGITS, "--hw", "tpu_v4_like_x8", "--parallel", "tensor",
                 "--batch", "2", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert [(c.strategy, c.cycles) for c in run.plan] == [
        (layer["strategy"], layer["cycles"]) for layer in cli["layers"]]
    assert run.comm_share == pytest.approx(cli["comm_share"])
    assert 0 < run.comm_share < 1 and run.energy_pj > 0


LLAMA2_7B_PARAMS = 32 * (4 * 4096**2 + 3 * 4096 * 11008) + 2 * 32000 * 4096
"""Llama 2 7B by hand: per layer Q, K, V, O (4·h²) and the gated FFN (3·h·11008), plus the
untied embedding and head; HuggingFace's 6,738,415,616 less its 266,240 RMSNorm weights."""


def test_load_llm_counts_the_published_parameters() -> None:
    assert simaccel.load_llm("llama2-7b").params == LLAMA2_7B_PARAMS == 6_738_149_376
    config = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
              "num_hidden_layers": 32, "num_attention_heads": 32, "vocab_size": 32000,
              "max_position_embeddings": 4096, "hidden_act": "silu"}
    assert simaccel.load_llm(config).params == LLAMA2_7B_PARAMS
    del config["hidden_size"]
    _refused("hidden_size", simaccel.load_llm, config)


def test_llm_footprint_is_weights_and_kv_cache_by_hand() -> None:
    fp = simaccel.llm_footprint("llama2-7b", "tpu_v4_like", "data", batch=1, prompt=128,
                                generate=32)
    assert fp.weights_bytes == 2 * LLAMA2_7B_PARAMS                       # bf16
    assert fp.kv_cache_bytes == 1 * 160 * 2 * 32 * 32 * 128 * 2           # K and V, 160 tokens
    assert fp.fits
    _refused("parallel", simaccel.llm_footprint, "llama2-7b", "tpu_v4_like", "auto")


def test_simulate_llm_is_the_clis(capsys: pytest.CaptureFixture[str]) -> None:
    run = simaccel.simulate_llm("llama2-7b", "tpu_v4_like", "data", prompt=16, generate=2)
    assert main(["llm", "llama2-7b", "--hw", "tpu_v4_like", "--parallel", "data",
                 "--prompt", "16", "--generate", "2", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert run.prefill.cycles / 1050e6 == pytest.approx(cli["ttft_s"], rel=1e-12)
    assert run.decode.mean.cycles / 1050e6 == pytest.approx(cli["tpot_s"], rel=1e-12)
    _refused("prompt", simaccel.simulate_llm, "llama2-7b", "tpu_v4_like", prompt=0)
    _refused("parallel", simaccel.simulate_llm, "llama2-7b", "tpu_v4_like", "expert")


# --- training ------------------------------------------------------------------------------

def test_with_precision_sets_operands_and_fp32_accumulators() -> None:
    hw = simaccel.with_precision("tpu_v1", "bf16")
    assert (hw.dtypes.input.value, hw.dtypes.weight.value, hw.dtypes.accumulator.value) == (
        "bf16", "bf16", "fp32")
    _refused("precision", simaccel.with_precision, "tpu_v1", "int8")


def test_training_step_is_three_forwards_less_conv1s_input_gradient() -> None:
    forward = {k.name: k.macs for k in simaccel.lower(DIGITS)}
    step = simaccel.training_step(DIGITS, "tpu_v1", "adam", precision="bf16")
    # forward, dW and dX per GEMM layer; conv1 has no input gradient (README, "Training")
    assert step.macs == 3 * sum(forward.values()) - forward["conv1"]
    _refused("optimizer", simaccel.training_step, DIGITS, "tpu_v1", "lion", precision="bf16")


def test_train_costs_each_full_batch_one_simulated_step() -> None:
    run = simaccel.train(DIGITS, "tpu_v1", precision="bf16", epochs=1, batch=32,
                         train_samples=64, test_samples=32, say=None)
    (epoch,) = run.epochs
    assert epoch.steps == 64 // 32
    step = simaccel.simulate_step(simaccel.load_model(DIGITS), simaccel.load_hardware("tpu_v1"),
                                  "adam", batch=32, precision="bf16", trace=False)
    assert epoch.seconds == pytest.approx(2 * step.report.results.total.cycles / 700e6)
    _refused("train_samples", simaccel.train, DIGITS, "tpu_v1", precision="bf16",
             train_samples=10**6)
    _refused("data", simaccel.train, DIGITS, "tpu_v1", precision="bf16", data="mnist")


def test_data_parallel_scaling_is_the_clis(capsys: pytest.CaptureFixture[str]) -> None:
    points = simaccel.data_parallel_scaling(DIGITS, "tpu_v4_like_x8", (1, 2), batch=8)
    assert (points[0].speedup, points[0].efficiency) == (1.0, 1.0)
    assert points[1].efficiency == pytest.approx(points[0].step.cycles / points[1].step.cycles / 2)
    assert main(["simulate", DIGITS, "--train", "--hw", "tpu_v4_like_x8", "--batch", "8",
                 "--parallel", "data", "--chips", "1,2", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["data_parallel"]
    assert [(p.step.cycles, p.speedup) for p in points] == [
        (row["cycles"], row["speedup"]) for row in cli]
    _refused("chips", simaccel.data_parallel_scaling, DIGITS, "tpu_v4_like_x8", (3,), batch=8)
    _refused("chips", simaccel.data_parallel_scaling, DIGITS, "tpu_v4_like_x8", [], batch=8)
