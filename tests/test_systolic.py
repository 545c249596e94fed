"""Systolic fold timing: hand-derived cases for each dataflow."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_one_pe_output_stationary_takes_a_cycle_per_mac() -> None:
    """SCALE-Sim's F·fold − 1 on a 1×1 OS array (fold = K, no fill or drain to overlap) would
    do M=N=1, K=4 in 3 cycles: 4 MACs on one PE. The degenerate-array rule gives 4."""
    plan = plan_folds(_gemm(1, 4, 1), ideal_hw(1, 1, "os").array)
    assert (plan.fold_cycles, plan.end_overlap, plan.compute_cycles) == (4, 0, 4)
    # any array with fill or drain keeps SCALE-Sim's − 1
    assert plan_folds(_gemm(1, 4, 1), ideal_hw(1, 2, "os").array).compute_cycles == 4
    assert plan_folds(_gemm(1, 4, 1), ideal_hw(1, 1, "ws").array).compute_cycles == 2 * 4 - 1


def test_scalesim_gemm_1x1x4_on_one_pe_is_physical() -> None:
    """The case file: g1 = M 1, N 1, K 4 on a 1×1 OS array with unlimited memory."""
    import simaccel

    data = Path(__file__).parent / "data" / "cases"
    report = simaccel.simulate(simaccel.load_model(data / "gemm_1x1x4.csv"),
                               simaccel.load_hardware(data / "array_1x1_os.toml")).to_dict()
    assert report["total"]["macs"] == 4
    assert report["total"]["cycles"] == report["layers"][0]["cycles"] == 4
    assert report["total"]["utilization"] == 1.0


_SHAPES = st.sampled_from([(1, 1), (1, 2), (2, 1), (1, 7), (5, 1), (2, 2), (3, 8), (8, 3)])


@settings(max_examples=300, deadline=None)
@given(shape=_SHAPES, dataflow=st.sampled_from(["os", "ws", "is"]),
       m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40),
       groups=st.integers(1, 3))
def test_cycles_never_beat_one_mac_per_pe_per_cycle(shape, dataflow, m, k, n, groups) -> None:
    """Physics on every array: a fold plan's cycles ≥ ⌈MACs / PEs⌉ and its mapping
    efficiency ≤ 1, for every dataflow and array shape including 1×1, 1×N and N×1."""
    kernel = _gemm(m, k, n, groups)
    plan = plan_folds(kernel, ideal_hw(*shape, dataflow).array)
    pes = shape[0] * shape[1]
    assert plan.compute_cycles >= math.ceil(kernel.macs / pes)
    assert 0 < plan.mapping_efficiency <= 1


@settings(max_examples=25, deadline=None)
@given(shape=_SHAPES, dataflow=st.sampled_from(["os", "ws", "is"]),
       m=st.integers(1, 12), k=st.integers(1, 12), n=st.integers(1, 12))
def test_simulated_utilization_is_at_most_one(shape, dataflow, m, k, n) -> None:
    """The same through the whole pipeline (tiles, engine, report) on a dense layer."""
    import simaccel
    from tests.helpers import model

    net = model([{"name": "d", "op": "dense", "inputs": ["x"], "units": n, "bias": False}],
                inputs=[{"name": "x", "shape": [m, k]}])
    report = simaccel.simulate(net, ideal_hw(*shape, dataflow), check=False).to_dict()
    total = report["total"]
    assert total["macs"] == m * k * n
    assert total["cycles"] >= math.ceil(m * k * n / (shape[0] * shape[1]))
    assert 0 < total["utilization"] <= total["mapping_efficiency"] <= 1


@settings(max_examples=300, deadline=None)
@given(shape=_SHAPES, dataflow=st.sampled_from(["os", "ws", "is"]),
       preload=st.sampled_from(["serial", "overlapped"]),
       m=st.integers(1, 24), k=st.integers(1, 24), n=st.integers(1, 24),
       groups=st.integers(1, 8))
def test_scheduled_cycles_never_beat_one_mac_per_pe_per_cycle(shape, dataflow, preload, m, k,
                                                              n, groups) -> None:
    """The same physics for the tiles the engine runs, with either weight preload: an
    overlapped preload hides the stationary operand's shift, so a group's end has only
    R + C − 2 cycles of fill and drain left to overlap (a fresh tester found a grouped GEMM
    on one PE doing 192 MACs in 185 cycles: one cycle too few per group)."""
    from simaccel.hardware import WeightPreload
    from simaccel.schedule import schedule_kernel

    hw = ideal_hw(*shape, dataflow)
    hw = hw.model_copy(update={"array": hw.array.model_copy(
        update={"weight_preload": WeightPreload(preload)})})
    kernel = _gemm(m, k, n, groups)
    work = schedule_kernel(kernel, hw, exact=True)
    assert work.compute_cycles >= math.ceil(kernel.macs / (shape[0] * shape[1]))
