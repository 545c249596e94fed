"""Tensor parallelism for any model and the per-layer layout search
(`simaccel.tensor_parallel`, `simaccel.layer_plan`, `simaccel partition`)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

import simaccel
from simaccel.cli import main
from simaccel.hardware import vary
from simaccel.kernels import GemmKernel, VectorKernel
from simaccel.layer_plan import (
    KINDS,
    Objective,
    costs_of,
    evaluate,
    search,
    strategies,
)
from simaccel.partition import batch_cycles, choose
from simaccel.tensor_parallel import Split, slice_kernel, sliced_runs, splits
from tests.helpers import model


def _hw(chips: int):
    return vary(simaccel.load_hardware("tpu_v4_like_x8"), {"system.chips": chips})


def _dense(k: int, n: int):
    return model([{"name": "fc", "op": "dense", "inputs": ["x"], "units": n}],
                 inputs=[{"name": "x", "shape": [1, k]}])


def test_slices_scale_the_split_dimension_and_its_tensors() -> None:
    conv = GemmKernel("c", "conv2d", m=64, k=72, n=16, groups=1, ifmap_elements=512,
                      filter_elements=72 * 16, ofmap_elements=64 * 16, bias_elements=16,
                      fused_vector_ops=64 * 16)
    n = slice_kernel(conv, Split.N, 4)
    assert (n.n, n.k, n.filter_elements, n.ofmap_elements, n.ifmap_elements,
            n.bias_elements, n.fused_vector_ops) == (4, 72, 288, 256, 512, 4, 256)
    k = slice_kernel(conv, Split.K, 4)
    assert (k.n, k.k, k.filter_elements, k.ofmap_elements, k.ifmap_elements,
            k.fused_vector_ops) == (16, 18, 288, 1024, 128, 256)
    depthwise = GemmKernel("d", "conv2d", m=64, k=9, n=1, groups=32, ifmap_elements=2048,
                           filter_elements=288, ofmap_elements=2048)
    assert splits(depthwise) == (Split.N,)
    g = slice_kernel(depthwise, Split.N, 4)
    assert (g.groups, g.ifmap_elements, g.filter_elements, g.ofmap_elements) == (
        8, 512, 72, 512)
    relu = VectorKernel("r", "relu", elements=1000, ops_per_element=1, input_elements=1000)
    assert slice_kernel(relu, Split.N, 4).elements == 250
    softmax = VectorKernel("s", "softmax", elements=1000, ops_per_element=5,
                           input_elements=1000)
    scores = GemmKernel("q", "matmul", m=8, k=8, n=8, groups=2, ifmap_elements=128,
                        filter_elements=128, ofmap_elements=128, filter_activation=True)
    assert splits(softmax) == () and splits(scores) == ()
    assert [s.name for s in strategies(softmax)] == ["data", "replicated"]
    with pytest.raises(ValueError, match="does not split along k"):
        slice_kernel(depthwise, Split.K, 4)


def test_n_and_k_splits_cost_the_engine_timed_slice_plus_the_ring_collective() -> None:
    """A 1536 → 3072 dense layer on 3 chips of a 50 GB/s, 1 µs ring at 1050 MHz (α = 1050
    cycles, β⁻¹ = 47.62 bytes a cycle), batch 1. N split: each chip a 1536 → 1024 layer,
    then the bf16 output (6144 bytes) all-gathered by the ring (3 is no power of two for
    the tree): 2 · (1050 + ⌈2048 / 47.62⌉) = 2 · 1094 = 2188 cycles. K split: each chip a
    512 → 3072 layer on its third of the input, then the fp32 partial sums (12288 bytes)
    all-reduced: ring 4 · (1050 + ⌈4096 / 47.62⌉) = 4 · 1137 = 4548 beats the tree's
    4 · (1050 + ⌈12288 / 47.62⌉) = 5236. With one inference the output need only be whole on
    one chip; the gather is timed as the all-gather."""
    hw = _hw(3)
    report = simaccel.simulate(_dense(1536, 3072), hw, check=False)
    shares = sliced_runs(report, 3)
    slice_n = simaccel.simulate(_dense(1536, 1024), hw, check=False).results.total.cycles
    slice_k = simaccel.simulate(_dense(512, 3072), hw, check=False).results.total.cycles
    assert shares.n_cycles == (slice_n,) and shares.k_cycles == (slice_k,)
    assert slice_n < report.results.total.cycles / 2  # the split pays: weights are read
    costs = costs_of(report, shares)
    n = evaluate(costs, ("tensor_n",), 1)
    assert (n.cycles, n.comm_cycles, n.final_cycles) == (slice_n + 2188, 2188, 2188)
    k = evaluate(costs, ("tensor_k",), 1)
    assert (k.cycles, k.comm_cycles) == (slice_k + 4548, 4548)
    assert search(costs, 1, KINDS["tensor"]).choices[0].strategy == "tensor_n"
    # Four inferences: four slices, then each inference's output to a chip of its own by
    # an all-to-all (each chip sends 2 chunks of ⌈8192 / 3⌉ = 2731 bytes: 2 · (1050 + 58)
    # = 2216) rather than an all-gather of 24576 bytes (2 · (1050 + 173) = 2446).
    four = evaluate(costs, ("tensor_n",), 4)
    assert four.cycles == 4 * slice_n + 2216


def _mixed():
    """Activations first (a conv and a softmax that no channel split serves), then two
    weight-bound dense layers of 16 MiB and 16 MiB."""
    return model([
        {"name": "conv", "op": "conv2d", "inputs": ["x"], "filters": 16, "kernel": [3, 3],
         "padding": "same"},
        {"name": "soft", "op": "softmax", "inputs": ["conv"]},
        {"name": "pool", "op": "maxpool2d", "inputs": ["soft"], "pool": [8, 8],
         "stride": [8, 8]},
        {"name": "flat", "op": "flatten", "inputs": ["pool"]},
        {"name": "fc1", "op": "dense", "inputs": ["flat"], "units": 8192},
        {"name": "fc2", "op": "dense", "inputs": ["fc1"], "units": 1024},
    ], inputs=[{"name": "x", "shape": [1, 64, 64, 16]}])


@pytest.fixture(scope="module")
def mixed_report():
    return simaccel.simulate(_mixed(), _hw(4), check=False)


def test_auto_per_layer_mixes_layouts_and_beats_every_whole_model_layout(mixed_report
                                                                         ) -> None:
    """Tensor parallelism gains nothing on the small conv and must gather its 128 KiB
    output for the softmax; data parallelism (batch 1: one chip) reads all the dense
    weights on one chip. The per-layer plan keeps the conv data-parallel and splits the
    dense layers (N then K: no collective between them), gathering only the 2 KiB
    pooled activation."""
    part, why = choose(mixed_report, "auto", 1)
    assert part.parallel == "per_layer"
    assert [c.strategy for c in part.layers] == ["data", "data", "data", "data",
                                                 "tensor_n", "tensor_k"]
    assert part.layers[4].convert == ("all_gather flat",)
    singles = {kind: batch_cycles(choose(mixed_report, kind, 1)[0], 1)
               for kind in ("data", "tensor", "pipeline")}
    assert batch_cycles(part, 1) < min(singles.values())
    assert why.startswith("fastest for the batch of 1: per_layer")
    assert all(kind in why for kind in singles)


def test_the_search_finds_the_best_plan_of_all(mixed_report) -> None:
    """Against brute force over every strategy of every kernel, for time and for energy."""
    costs = costs_of(mixed_report, sliced_runs(mixed_report, 4))
    plans = [evaluate(costs, names, 2) for names in itertools.product(
        *([s.name for s in strategies(k)] for k in costs.kernels))]
    fastest = search(costs, 2)
    assert fastest.cycles == min(p.cycles for p in plans)
    thrifty = search(costs, 2, objective=Objective.ENERGY)
    assert thrifty.energy_pj == pytest.approx(min(p.energy_pj for p in plans))
    assert thrifty.energy_pj <= fastest.energy_pj
    assert evaluate(costs, tuple(c.strategy for c in fastest.choices), 2) == fastest


def test_auto_is_the_best_single_layout_when_that_one_dominates() -> None:
    """Small layers and a batch of 8 on 4 chips: any collective costs more than a split
    saves, so every layer stays data-parallel and auto is data parallelism exactly."""
    chain = model([{"name": f"d{i}", "op": "dense", "inputs": [f"d{i - 1}" if i else "x"],
                    "units": 256} for i in range(3)], inputs=[{"name": "x", "shape": [1, 256]}])
    report = simaccel.simulate(chain, _hw(4), check=False)
    plan = choose(report, "auto", 8)[0]
    per_layer = search(costs_of(report, sliced_runs(report, 4)), 8)
    assert [c.strategy for c in per_layer.choices] == ["data"] * 3
    data = choose(report, "data", 8)[0]
    assert batch_cycles(plan, 8) == batch_cycles(data, 8) == per_layer.cycles \
        == 2 * report.results.total.cycles


def test_partition_verb_tensor_and_objective(capsys, root) -> None:
    mnist = str(root / "workloads" / "mnist_cnn.json")
    assert main(["partition", mnist, "--parallel", "tensor", "--hw", "tpu_v4_like_x8"]) == 0
    out = capsys.readouterr().out
    assert "tensor over 8 chip(s)" in out and "communication" in out
    assert "  fc1: tensor_" in out and "(of data " in out
    assert main(["partition", mnist, "--parallel", "auto", "--objective", "energy",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["why"].startswith("least energy for the batch of 1: ")
    assert data["energy_mj"] > 0
    for bad, flag in ((["--objective", "fast"], "--objective"),
                      (["--parallel", "model"], "--parallel")):
        assert main(["partition", mnist, *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"simaccel: {flag}: ")


@pytest.mark.parametrize("batch", [1, 3, 4, 5, 9, 64])
def test_pipeline_stages_never_beat_data_parallelism(mixed_report, batch: int) -> None:
    """Why the per-layer search has no pipeline-stage choice: for any run of kernels of
    windows w on p chips, ⌈B/p⌉·Σw ≤ Σw + (B − 1)·max stage, since a stage is at least
    Σw/p and ⌈B/p⌉ − 1 ≤ (B − 1)/p; data needs no sends and its inputs' re-distributions
    cost no more. So the whole-model pipeline is auto's only pipeline candidate."""
    data, _ = choose(mixed_report, "data", batch)
    piped, _ = choose(mixed_report, "pipeline", batch)
    assert batch_cycles(data, batch) <= batch_cycles(piped, batch)


def test_a_slice_moves_its_share_of_measured_weights() -> None:
    """The digits CNN ships trained (dense) weights, whose measured sparsity the kernels
    carry: a slice must store and move only its share of them, so the tensor plan's energy
    with the weights equals the one without (found by a tester: 10% more with them, the
    whole kernel's weights moved by every slice)."""
    import dataclasses

    from simaccel.partition import choose

    model = simaccel.load_model(Path(__file__).resolve().parent.parent / "workloads" /
                                "digits_cnn.json")
    hw = simaccel.load_hardware("tpu_v4_like_x8")
    with_weights, _ = choose(simaccel.simulate(model, hw, check=False), "tensor", 1)
    bare = dataclasses.replace(model, weights=None)
    without, _ = choose(simaccel.simulate(bare, hw, check=False), "tensor", 1)
    assert with_weights.energy_pj == pytest.approx(without.energy_pj, rel=1e-9)
    assert with_weights.batch_cycles == without.batch_cycles
