"""Data-parallel training over a system's chips: each chip's step on batch / chips, the
gradients' all-reduces overlapped with the backward pass, the updates waiting for them, and
the scaling sweep (docs/architecture.md, "Training", "Data-parallel steps")."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import simaccel
from simaccel.cli import main
from simaccel.hardware import vary
from simaccel.training_parallel import scaling, simulate_data_parallel
from simaccel.training_run import simulate_step
from tests.helpers import model

ROOT = Path(__file__).resolve().parent.parent
DIGITS = simaccel.load_model(ROOT / "workloads" / "digits_cnn.json")
MNIST_PATH = str(ROOT / "workloads" / "mnist_cnn.json")
#: The digits CNN's parameters: conv1 3·3·1·16 + 16, conv2 3·3·16·32 + 32,
#: fc1 (2·2·32)·64 + 64, fc2 64·10 + 10.
DIGITS_PARAMETERS = 160 + 4640 + 8256 + 650


@pytest.fixture(scope="module")
def x8():
    return simaccel.load_hardware("tpu_v4_like_x8")


def _ring_all_reduce(nbytes: int, p: int, bytes_per_cycle: float, latency: int) -> int:
    """2(p−1)·(α + ⌈n/p⌉·β) in cycles, α the per-hop latency (one hop to a ring
    neighbour), β a byte's cycles."""
    return 2 * (p - 1) * (math.ceil(math.ceil(nbytes / p) / bytes_per_cycle) + latency)


def test_one_dense_layer_on_slow_links_is_compute_then_the_all_reduces_then_the_update(
        x8) -> None:
    """Dense 64 → 10 with bias, global batch 8 on 4 chips of 2.1 GB/s links (2 bytes a
    cycle at 1050 MHz), 1 µs a hop (1,050 cycles): the bf16 gradients (dW 1,280 bytes, db
    20) are all-reduced one after the other from the end of each kernel that writes them,
    in the order they are ready; the update starts when both have arrived."""
    net = model([{"name": "fc", "op": "dense", "inputs": ["x"], "units": 10}],
                inputs=[{"name": "x", "shape": [8, 64]}])
    hw = vary(x8, {"system.link_gbps": 2.1, "system.link_latency_ns": 1000})
    dp = simulate_data_parallel(net, hw, 4)
    rows = {r.work.kernel.name: r for r in dp.local.report.results.layers}
    assert dp.local.step.graph.model.inputs[0].shape[0] == 2
    assert [r.work.kernel.name for r in dp.local.report.results.layers][-1] == "fc.update"
    ready = sorted([(rows["fc.dW"].end_cycle, 64 * 10 * 2), (rows["fc.db"].end_cycle, 10 * 2)])
    link_free = 0
    for end, nbytes in ready:
        link_free = max(end, link_free) + _ring_all_reduce(nbytes, 4, 2.0, 1050)
    update = rows["fc.update"]
    expected = max(dp.compute_cycles, update.end_cycle + max(0, link_free - update.start_cycle))
    assert dp.cycles == expected
    assert dp.exposed_cycles == expected - dp.compute_cycles > 0
    assert dp.communication_cycles == _ring_all_reduce(1280, 4, 2.0, 1050) + \
        _ring_all_reduce(20, 4, 2.0, 1050)
    assert dp.reduced_bytes == (64 * 10 + 10) * 2


def test_a_chips_cores_reduce_over_the_on_chip_ring_and_share_its_dram() -> None:
    """edge_4core (one 8 GB/s DRAM channel shared, a 32 GB/s ring at 4 ns a hop): on 4 of
    its cores each core's step has a quarter of the bandwidth, and every gradient's
    all-reduce takes 2(p−1)·(α + ⌈n/p⌉·β) on the ring."""
    hw = simaccel.load_hardware("edge_4core")
    dp = simulate_data_parallel(DIGITS, hw, 4, batch=8, precision="bf16", level="chip")
    local = dp.hardware
    assert local.chip.cores == 1
    assert local.dram_bytes_per_cycle == pytest.approx(hw.dram_bytes_per_cycle / 4)
    beta = hw.chip.noc_gbps * 1e9 / (hw.clock_mhz * 1e6)
    alpha = math.ceil(hw.chip.noc_latency_ns * hw.clock_mhz / 1000)
    assert [r.end_cycle - r.start_cycle for r in dp.reduces] == [
        _ring_all_reduce(r.nbytes, 4, beta, alpha) for r in dp.reduces]
    assert dp.reduced_bytes == DIGITS_PARAMETERS * 2


def test_one_chip_is_the_plain_step(x8) -> None:
    dp = simulate_data_parallel(DIGITS, x8, 1, "adam", batch=8)
    plain = simulate_step(DIGITS, x8, "adam", batch=8, trace=False)
    assert dp.cycles == dp.compute_cycles == plain.report.results.total.cycles
    assert dp.reduces == () and dp.exposed_cycles == 0
    assert dp.energy_pj == plain.report.energy.total.total
    two = simulate_data_parallel(DIGITS, x8, 2, "adam", batch=8)
    assert two.energy_pj == 2 * two.local.report.energy.total.total


def test_more_chips_never_increase_a_chips_compute(x8) -> None:
    steps = [simulate_data_parallel(DIGITS, x8, p, "adam", batch=32) for p in (1, 2, 4, 8)]
    computes = [s.compute_cycles for s in steps]
    assert computes == sorted(computes, reverse=True) and computes[0] > computes[-1]
    assert all(s.local.step.macs * s.chips == steps[0].local.step.macs for s in steps)


@pytest.mark.parametrize("precision, size", [("bf16", 2), ("fp32", 4)])
def test_all_reduced_bytes_are_every_parameter_gradient_in_the_training_type(
        x8, precision: str, size: int) -> None:
    dp = simulate_data_parallel(DIGITS, x8, 2, batch=8, precision=precision)
    assert dp.reduced_bytes == DIGITS_PARAMETERS * size
    assert {r.tensor for r in dp.reduces} == {f"{layer}.{name}.grad" for layer in
                                              ("conv1", "conv2", "fc1", "fc2")
                                              for name in ("kernel", "bias")}


def test_the_all_reduces_overlap_the_backward_pass(x8) -> None:
    """MNIST CNN, batch 64 on 2 chips: the first gradients are reduced while the chip still
    computes the backward of the layers before, so only part of the communication is
    exposed; the updates run after the whole backward pass (none blocks a backward kernel
    on the in-order vector unit while it waits for its gradients)."""
    mnist = simaccel.load_model(MNIST_PATH)
    dp = simulate_data_parallel(mnist, x8, 2, "adam", batch=64)
    phases = [op.phase for op in dp.local.step.ops]
    updates = phases.count("update")
    assert updates == 4 and set(phases[-updates:]) == {"update"}
    backward_end = max(r.end_cycle for r, op in zip(dp.local.report.results.layers,
                                                    dp.local.step.ops, strict=True)
                       if op.phase != "update")
    assert dp.reduces[0].start_cycle < backward_end
    assert 0 <= dp.exposed_cycles < dp.communication_cycles
    assert dp.cycles >= dp.reduces[-1].end_cycle
    starts = [r.start_cycle for r in dp.reduces]
    assert starts == sorted(starts)
    assert all(r.start_cycle >= r.ready_cycle for r in dp.reduces)


def test_scaling_efficiency_is_the_speedup_over_one_chip_per_chip(x8) -> None:
    mnist = simaccel.load_model(MNIST_PATH)
    points = scaling(mnist, x8, (1, 2), batch=64, optimizer="adam")
    one, two = points
    assert one.speedup == one.efficiency == 1.0
    assert two.speedup == one.step.cycles / two.step.cycles > 1
    assert two.efficiency == two.speedup / 2


def test_simulate_train_parallel_data_prints_a_row_per_chip_count(capsys) -> None:
    assert main(["simulate", MNIST_PATH, "--train", "--hw", "tpu_v4_like_x8", "--parallel",
                 "data", "--chips", "1,2", "--batch", "16", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["data_parallel"]
    assert [r["chips"] for r in rows] == [1, 2]
    assert [r["per_chip_batch"] for r in rows] == [16, 8]
    assert rows[1]["efficiency"] == rows[1]["speedup"] / 2


@pytest.mark.parametrize("argv, field", [
    (["--train", "--parallel", "data", "--chips", "3", "--batch", "8"], "--chips"),
    (["--train", "--parallel", "data", "--chips", "2,x"], "--chips"),
    (["--train", "--parallel", "tensor"], "--parallel"),
    (["--train", "--chips", "2"], "--chips"),
    (["--parallel", "data"], "--parallel"),
    (["--train", "--parallel", "data", "--level", "chip", "--chips", "4"], "--chips"),
    (["--train", "--parallel", "data", "--level", "core"], "--level"),
])
def test_bad_parallel_training_input_is_one_line(argv, field, capsys) -> None:
    assert main(["simulate", MNIST_PATH, "--hw", "tpu_v4_like_x8", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("simaccel: ") and field in err


def test_a_chip_count_given_twice_is_bad_input() -> None:
    """Found by a newcomer: --chips 2,2 printed the same row twice."""
    import simaccel
    from simaccel.errors import InputError
    from simaccel.training_parallel import chip_counts

    with pytest.raises(InputError, match="2 is given twice"):
        chip_counts("2,2", simaccel.load_hardware("tpu_v4_like_x8"))
