"""Systolic fold timing: hand-derived cases for each dataflow."""

from __future__ import annotations

import pytest

from simaccel.domain import Dataflow
from simaccel.kernels import GemmKernel
from simaccel.systolic import fill_drain_cycles, fold_cycles, plan_folds, sram_accesses
from tests.helpers import ideal_hw


def _gemm(m: int, k: int, n: int, groups: int = 1) -> GemmKernel:
    return GemmKernel(name="g", op="dense", m=m, k=k, n=n, groups=groups, ifmap_elements=m * k,
                      filter_elements=k * n, ofmap_elements=m * n)


def test_fill_and_drain_per_dataflow() -> None:
    """OS: (R−1) + (C−1) skew; WS/IS add R cycles to preload the stationary operand."""
    assert fill_drain_cycles(Dataflow.OS, 8, 8) == 14
    assert fill_drain_cycles(Dataflow.WS, 8, 8) == 22
    assert fill_drain_cycles(Dataflow.IS, 16, 64) == 94


def test_os_fold_of_a_3x3_single_channel_conv() -> None:
    """MNIST conv1 on 8×8 OS: M=676, K=9, N=32. Folds ⌈676/8⌉·⌈32/8⌉ = 85·4 = 340, each
    9 + 8 + 8 − 2 = 23 cycles: 340·23 − 1 = 7819 cycles. Rows: 84 full folds and one with
    4 of 8 rows in use; mapping efficiency (84 + 0.5)/85 = 0.99412."""
    plan = plan_folds(_gemm(676, 9, 32), ideal_hw(8, 8, "os").array)
    assert fold_cycles(Dataflow.OS, 9, 8, 8) == 23
    assert (plan.row_folds, plan.col_folds, plan.folds) == (85, 4, 340)
    assert plan.compute_cycles == 7819
    assert plan.mapping_efficiency == pytest.approx(84.5 / 85)


def test_ws_streams_m() -> None:
    """Same layer on 8×8 WS: K=9 on rows (2 folds), N=32 on cols (4): 8 folds of
    2·8 + 8 + 676 − 2 = 698 cycles: 5583. Efficiency (1 + 1/8)/2 = 0.5625."""
    plan = plan_folds(_gemm(676, 9, 32), ideal_hw(8, 8, "ws").array)
    assert (plan.folds, plan.fold_cycles, plan.compute_cycles) == (8, 698, 5583)
    assert plan.mapping_efficiency == pytest.approx(0.5625)


def test_is_streams_n() -> None:
    """8×8 IS: K=9 on rows (2 folds), M=676 on cols (85 folds), N=32 streamed:
    170 folds of 16 + 8 + 32 − 2 = 54 cycles: 9179."""
    plan = plan_folds(_gemm(676, 9, 32), ideal_hw(8, 8, "is").array)
    assert (plan.folds, plan.fold_cycles, plan.compute_cycles) == (170, 54, 9179)


def test_groups_run_back_to_back() -> None:
    """A depthwise layer of 64 groups (M=256, K=9, N=1) on 8×8 OS: each group 32 folds of
    23 cycles − 1 = 735; 64 groups: 47040. Only 1 of 8 columns is used: efficiency 1/8."""
    plan = plan_folds(_gemm(256, 9, 1, groups=64), ideal_hw(8, 8, "os").array)
    assert plan.compute_cycles == 64 * 735 == 47040
    assert plan.folds == 64 * 32
    assert plan.mapping_efficiency == pytest.approx(0.125)


def test_steady_cycles_times_efficiency_is_macs_per_pe() -> None:
    kernel = _gemm(100, 37, 45)
    plan = plan_folds(kernel, ideal_hw(16, 8, "ws").array)
    assert plan.steady_cycles * 16 * 8 * plan.mapping_efficiency == pytest.approx(kernel.macs)


def test_sram_accesses_per_dataflow() -> None:
    """M=10, K=20, N=30 on 8×8. OS reads the ifmap once per column fold (4·200) and the
    filter once per row fold (2·600); WS keeps weights (600) and writes a partial sum per
    K-fold (3·300), reading back two of them."""
    kernel = _gemm(10, 20, 30)
    os_ = sram_accesses(kernel, plan_folds(kernel, ideal_hw(8, 8, "os").array))
    assert (os_.ifmap_reads, os_.filter_reads, os_.ofmap_writes, os_.ofmap_reads) == (
        800, 1200, 300, 0)
    ws = sram_accesses(kernel, plan_folds(kernel, ideal_hw(8, 8, "ws").array))
    assert (ws.ifmap_reads, ws.filter_reads, ws.ofmap_writes, ws.ofmap_reads) == (
        800, 600, 900, 600)
    is_ = sram_accesses(kernel, plan_folds(kernel, ideal_hw(8, 8, "is").array))
    assert (is_.ifmap_reads, is_.filter_reads, is_.ofmap_writes) == (200, 1200, 900)
