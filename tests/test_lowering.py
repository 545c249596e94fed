"""Lowering passes: im2col GEMM shapes, batchnorm folding, activation fusion, vector kernels."""

from __future__ import annotations

from pathlib import Path

import simaccel
from simaccel.graph import build_graph
from simaccel.kernels import GemmKernel, VectorKernel
from simaccel.lowering import PASSES, lower, lower_layers
from tests.helpers import model

ROOT = Path(__file__).resolve().parent.parent


def test_conv_lowers_by_im2col() -> None:
    """[2, 8, 8, 4] * 3×3×4→6, stride 2, same: output 4×4, M = 2·4·4 = 32, K = 36, N = 6."""
    graph = build_graph(model(
        [{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 6, "kernel": 3, "stride": 2,
          "padding": "same"}], inputs=[{"name": "x", "shape": [2, 8, 8, 4]}]))
    (kernel,) = lower(graph)
    assert isinstance(kernel, GemmKernel)
    assert (kernel.m, kernel.k, kernel.n, kernel.groups) == (32, 36, 6, 1)
    assert kernel.macs == 2 * 4 * 4 * 3 * 3 * 4 * 6
    assert kernel.ofmap_elements == 2 * 4 * 4 * 6


def test_depthwise_and_grouped_conv() -> None:
    """Depthwise 3×3 over 4 channels: 4 groups of (64 × 9) · (9 × 1)."""
    graph = build_graph(model([{"name": "dw", "op": "conv2d", "inputs": ["x"], "filters": 4,
                                "kernel": 3, "groups": 4, "padding": "same"}]))
    (kernel,) = lower(graph)
    assert (kernel.m, kernel.k, kernel.n, kernel.groups) == (64, 9, 1, 4)


def test_batched_matmul_is_grouped_gemm() -> None:
    graph = build_graph(model(
        [{"name": "m", "op": "matmul", "inputs": ["a", "b"], "transpose_b": True}],
        inputs=[{"name": "a", "shape": [2, 3, 5, 7]}, {"name": "b", "shape": [2, 3, 11, 7]}]))
    (kernel,) = lower(graph)
    assert (kernel.m, kernel.k, kernel.n, kernel.groups) == (5, 7, 11, 6)


def test_dense_on_a_sequence_uses_every_row() -> None:
    graph = build_graph(model([{"name": "d", "op": "dense", "inputs": ["x"], "units": 3}],
                              inputs=[{"name": "x", "shape": [1, 128, 768]}]))
    (kernel,) = lower(graph)
    assert (kernel.m, kernel.k, kernel.n) == (128, 768, 3)


def test_batchnorm_folds_and_relu_fuses_into_the_conv() -> None:
    graph = build_graph(model([
        {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 4, "kernel": 1,
         "bias": False},
        {"name": "bn", "op": "batchnorm", "inputs": ["c"]},
        {"name": "r", "op": "relu6", "inputs": ["bn"]},
        {"name": "p", "op": "maxpool2d", "inputs": ["r"], "pool": 2},
    ]))
    assert [type(k) for k in lower_layers(graph)] == [GemmKernel, VectorKernel, VectorKernel,
                                                      VectorKernel]
    conv, pool = lower(graph)
    assert conv.fused == ("bn", "r")
    assert conv.output == "r"
    assert conv.bias_elements == 4  # the folded batchnorm becomes a bias
    assert conv.fused_vector_ops == 2 * 8 * 8 * 4  # relu6: 2 ops per output
    assert isinstance(pool, VectorKernel) and pool.elements == 4 * 4 * 4


def test_no_fusion_when_the_output_is_also_read_elsewhere() -> None:
    graph = build_graph(model([
        {"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 4, "kernel": 1},
        {"name": "r", "op": "relu", "inputs": ["c"]},
        {"name": "s", "op": "add", "inputs": ["r", "c"]},
    ]))
    assert [k.name for k in lower(graph)] == ["c", "r", "s"]


def test_vector_kernel_cycles() -> None:
    """A 2×2 max pool over [1, 8, 8, 4]: 64 outputs × 4 compares on 8 lanes = 32 cycles;
    softmax over 256 elements at 5 ops on 8 lanes = 160."""
    graph = build_graph(model([
        {"name": "p", "op": "maxpool2d", "inputs": ["x"], "pool": 2},
        {"name": "s", "op": "softmax", "inputs": ["x"]},
        {"name": "f", "op": "flatten", "inputs": ["p"]},
    ]))
    kernels = {kernel.name: kernel for kernel in lower(graph)}
    pool, soft, flat = kernels["p"], kernels["s"], kernels["f"]
    assert pool.cycles(8) == 32
    assert soft.cycles(8) == 160
    assert flat.cycles(8) == 0  # a view: no data moves


def test_passes_conserve_macs_on_resnet50() -> None:
    graph = build_graph(simaccel.load_model(ROOT / "workloads" / "resnet50.json"))
    kernels = lower_layers(graph)
    before = sum(k.macs for k in kernels)
    for lowering_pass in PASSES:
        kernels = lowering_pass(graph, kernels)
        assert sum(k.macs for k in kernels) == before
    gemms = [k for k in kernels if isinstance(k, GemmKernel)]
    assert len(gemms) == 54  # 53 convolutions and the classifier
    assert all(len(k.fused) >= 1 for k in gemms if k.op == "conv2d")  # every conv has its bn
