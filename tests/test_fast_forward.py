"""Fast-forward (docs/architecture.md, "Fast-forward"): the steady state of a kernel's long
loops is timed from two listed iterations and skipped; the exact mode lists every tile.

The exact mode is the reference: every shipped workload on every shipped config agrees
within 0.5% (those whose exact run is too long for the suite are checked by
``benchmarks/bench.py -k fast-forward``); the kernel totals the fast-forward counts without
listing the tiles (cycles, tiles, DRAM and buffer bytes) equal the full list's sums exactly.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simaccel
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel
from simaccel.numerics import check, weights
from simaccel.pipeline import input_elements, map_and_time, prepare
from simaccel.program import Opcode
from simaccel.schedule import FAST_FORWARD_MIN, Skip, build_schedule, loop_steps

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = sorted(p.stem for p in (ROOT / "workloads").glob("*.json"))
CONFIGS = sorted(p.stem for p in (ROOT / "hw_configs").glob("*.toml"))
#: Agreement the issue asks for (relative, total cycles).
TOLERANCE = 0.005
#: Exact runs above this many tiles are left to the benchmark (each takes seconds).
EXACT_TILES_IN_SUITE = 7_000


@cache
def _prepared(workload: str):
    return prepare(simaccel.load_model(ROOT / "workloads" / f"{workload}.json"))


def _cycles(prepared, hw: Hardware, exact: bool) -> int:
    schedule = build_schedule(prepared.kernels, hw, exact=exact)
    return map_and_time(schedule, prepared.graph, trace=False)[2].cycles


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_fast_forward_agrees_with_the_exact_run(workload: str, config: str) -> None:
    prepared, hw = _prepared(workload), simaccel.load_hardware(config)
    fast = build_schedule(prepared.kernels, hw)
    tiles = sum(layer.tile_count for layer in fast.layers)
    if tiles > EXACT_TILES_IN_SUITE:
        pytest.skip(f"{tiles:,} tiles: the exact run is left to benchmarks/bench.py")
    exact = _cycles(prepared, hw, exact=True)
    assert abs(_cycles(prepared, hw, exact=False) - exact) <= TOLERANCE * exact


def _hw(bytes_per_cycle: float, kib: float = 64) -> Hardware:
    return parse_hardware({
        "name": "t", "clock_mhz": 1000, "array": {"rows": 32, "cols": 32, "dataflow": "os"},
        "sram": {"ifmap_kib": kib, "filter_kib": kib, "ofmap_kib": kib},
        "dram": {"bytes_per_cycle": bytes_per_cycle, "latency_ns": 100},
        "vector": {"lanes": 32}}, "<test>")


def _gemm(m: int, k: int, n: int, groups: int = 1) -> GemmKernel:
    return GemmKernel(name="g", op="dense", m=m, k=k, n=n, groups=groups,
                      ifmap_elements=groups * m * k, filter_elements=groups * k * n,
                      ofmap_elements=groups * m * n, inputs=("x",))


@pytest.mark.parametrize("bytes_per_cycle", [1, 10, 64, math.inf],
                         ids=["dram-bound", "balanced", "compute-bound", "ideal"])
def test_one_long_gemm_is_timed_exactly(bytes_per_cycle: float) -> None:
    """A 2048 × 2048 × 2048 dense layer, thousands of tiles, its loops' middles skipped; the
    skipped run ends on the very cycle the full run does, whatever bounds it."""
    from simaccel.graph import build_graph
    from simaccel.lowering import lower
    from tests.helpers import model

    graph = build_graph(model([{"name": "g", "op": "dense", "inputs": ["x"], "units": 2048}],
                              inputs=[{"name": "x", "shape": [2048, 2048]}]))
    hw = _hw(bytes_per_cycle)
    kernels = lower(graph)
    fast = build_schedule(kernels, hw)
    assert fast.layers[0].fast_forwarded
    full = build_schedule(kernels, hw, exact=True)
    assert fast.layers[0].tile_count == len(full.layers[0].tiles) > 1000
    assert len(fast.layers[0].tiles) < len(full.layers[0].tiles) / 20
    timed = [map_and_time(s, graph, trace=False)[2].cycles for s in (fast, full)]
    assert timed[0] == timed[1]


def test_the_program_says_what_it_skipped() -> None:
    hw = _hw(10)
    schedule = build_schedule((_gemm(1024, 1024, 1024),), hw)
    program = simaccel.mapping.compile_program(schedule, {"x": 1024 * 1024}, ["g"])[0]
    skips = [ins for ins in program.instructions if ins.op is Opcode.SKIP]
    steps = [s for s in schedule.layers[0].steps if isinstance(s, Skip)]
    assert [ins.repeat for ins in skips] == [s.count for s in steps] != []
    assert all(ins.unit.value == "array" and len(ins.probes) == 3 for ins in skips)
    assert "skip" in program.listing() and "iterations like the last" in program.listing()


def test_loop_steps_list_the_ends_and_mark_the_timed_iterations() -> None:
    steps = list(loop_steps((11,), fast_forward=True))
    assert [s if isinstance(s, tuple) else type(s).__name__ for s in steps] == [
        (0,), (1,), "Rep", (2,), "Rep", (3,), "Rep", (4,), "Skip", (9,), (10,)]
    assert steps[8].count == 11 - 7
    steps = list(loop_steps((10,), fast_forward=True))  # one more listed: an even skip
    assert [s if isinstance(s, tuple) else type(s).__name__ for s in steps] == [
        (0,), (1,), "Rep", (2,), "Rep", (3,), "Rep", (4,), "Rep", (5,), "Skip", (8,), (9,)]
    assert steps[10].count == 10 - 8
    assert list(loop_steps((FAST_FORWARD_MIN - 1,), True)) == [
        (i,) for i in range(FAST_FORWARD_MIN - 1)]
    assert list(loop_steps((3, 2), False)) == [(a, b) for a in range(3) for b in range(2)]


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 400), k=st.integers(1, 600), n=st.integers(1, 400),
       groups=st.sampled_from([1, 3, 12]), kib=st.sampled_from([2, 8, 64]),
       dataflow=st.sampled_from(["os", "ws", "is"]))
def test_kernel_totals_equal_the_sums_over_every_tile(m, k, n, groups, kib, dataflow) -> None:
    """Cycles, tiles and every traffic field the fast-forward counts (per iteration, and the
    loads from how often each block is fetched) equal the sums over the full tile list."""
    hw = parse_hardware({
        "name": "t", "clock_mhz": 1000, "array": {"rows": 8, "cols": 8, "dataflow": dataflow},
        "sram": {"ifmap_kib": kib, "filter_kib": kib, "ofmap_kib": kib},
        "dram": {"bytes_per_cycle": 8, "latency_ns": 0}, "vector": {"lanes": 8}}, "<test>")
    kernel = GemmKernel(name="g", op="conv2d", m=m, k=k, n=n, groups=groups,
                        ifmap_elements=groups * (m * k // 3 + 1), filter_elements=groups * k * n,
                        ofmap_elements=groups * m * n, bias_elements=groups * n)
    fast = build_schedule((kernel,), hw).layers[0]
    full = build_schedule((kernel,), hw, exact=True).layers[0]
    tiles = full.tiles
    assert fast.tile_count == len(tiles)
    assert fast.compute_cycles == sum(t.compute_cycles for t in tiles)
    summed = tiles[0].traffic
    for tile in tiles[1:]:
        summed = summed + tile.traffic
    assert fast.traffic == summed == full.traffic


def test_the_numerics_refuse_a_program_with_skips() -> None:
    prepared = _prepared("gemm_square_1024")
    hw = _hw(10)
    schedule = build_schedule(prepared.kernels, hw)
    assert schedule.fast_forwarded
    program = simaccel.mapping.compile_program(schedule, input_elements(prepared.graph),
                                               prepared.graph.model.outputs)[0]
    params = weights.model_params(prepared.graph, prepared.graph.model.weights)
    with pytest.raises(ValueError, match="exact=True"):
        check.run(prepared.graph, schedule, program, params,
                  weights.input_tensors(prepared.graph))


def test_simulate_checks_the_numerics_of_every_tile_when_it_fast_forwards() -> None:
    """The timed run skips; the numerics still execute the full Program and pass."""
    report = simaccel.simulate(simaccel.load_model(ROOT / "workloads" / "mnist_cnn.json"),
                               simaccel.load_hardware("teaching_8x8"), check=True)
    assert any(layer.work.fast_forwarded for layer in report.results.layers)
    assert all(c.status == "pass" for c in report.numerics.checks)


def test_the_cli_lists_and_times_both_ways(capsys) -> None:
    from simaccel.cli import main

    model = str(ROOT / "workloads" / "gemm_square_1024.json")
    assert main(["program", model, "--hw", "teaching_8x8"]) == 0
    fast = capsys.readouterr().out
    assert main(["program", model, "--hw", "teaching_8x8", "--exact"]) == 0
    full = capsys.readouterr().out
    assert " skip " in fast and " skip " not in full
    assert full.count(" matmul ") == 128 ** 2 > 10 * fast.count(" matmul ")
    cycles = []
    for flags in ([], ["--exact"]):
        assert main(["simulate", model, "--hw", "teaching_8x8", "--json", "--no-check",
                     *flags]) == 0
        cycles.append(json.loads(capsys.readouterr().out)["total"]["cycles"])
    assert abs(cycles[0] - cycles[1]) <= TOLERANCE * cycles[1]


def test_a_training_step_is_timed_fast_and_executed_whole() -> None:
    """The step's timed Program skips (mnist on the 8×8 array has long loops); the Program
    the trainer executes lists every tile, and both time the step alike."""
    from simaccel.training import Optimizer
    from simaccel.training_run import build_step, compile_step, step_cost, training_hardware

    hw = training_hardware(simaccel.load_hardware("teaching_8x8"), "bf16")
    model = simaccel.load_model(ROOT / "workloads" / "mnist_cnn.json")
    step = build_step(model, hw, Optimizer.SGD)
    timed = compile_step(step, hw)
    assert any(ins.op is Opcode.SKIP for ins in timed[1].instructions)
    program, cycles, _ = step_cost(step, hw)
    assert not any(ins.op is Opcode.SKIP for ins in program.instructions)
    assert abs(timed[3].cycles - cycles) <= TOLERANCE * cycles


def test_a_skip_beside_another_kernels_work_is_not_trusted() -> None:
    """Kernel 0 measured its period over cycles 0–10,000 and skipped 10,000–110,000. Kernel
    1's 20 cycles on the DRAM channel inside the measured window are above the 0.1% it may
    distort the period by, 5 are within; in the skipped span its work counts above 1%."""
    from simaccel.engine import contended

    skip = [(0, 0, 10_000, 10_000, 110_000)]
    own = [(0, 10_000, 0)]
    assert contended(skip, {0: [(5_000, 5_020, 1)], (0, "array"): own}) == (0,)
    assert contended(skip, {0: [(5_000, 5_005, 1)], (0, "array"): own}) == ()
    assert contended(skip, {0: [(20_000, 20_500, 1)], (0, "array"): own}) == ()
    assert contended(skip, {0: [(20_000, 22_000, 1)], (0, "array"): own}) == (0,)
    assert contended(skip, {0: [(0, 200_000, 0)]}) == ()  # its own work is not another's


@pytest.mark.parametrize("dataflow,filter_kib,latency_ns,k", [
    ("os", 0.25, 100, 1600), ("is", 0.25, 200, 1600), ("ws", 1, 200, 1600), ("os", 1, 100, 1000)])
def test_a_pipeline_whose_iterations_alternate_is_fast_forwarded_over_both(
        dataflow: str, filter_kib: float, latency_ns: int, k: int) -> None:
    """Double-buffered weight slots of a few hundred bytes behind a long DRAM latency (a
    fresh tester's case): a tile's load waits for the slot of the tile two before it, so
    tiles end short and long apart in turn (os, 0.25 KiB, 100 ns: 30 and 113 cycles). By
    hand for that one: two tiles take load + latency + compute, (15 + 100 + 30) = 145 cycles
    less the overlap of the two loads on the channel, about 71.5 per tile, 800 tiles about
    58,000 cycles. Timing one iteration took the short one (28,051 against the exact 58,037,
    52% off), and an odd skip resumed in the wrong phase (K = 1000: 16 K tiles, a skip of 9;
    1% off)."""
    from simaccel.graph import build_graph
    from simaccel.lowering import lower
    from tests.helpers import model

    graph = build_graph(model([{"name": "fc1", "op": "dense", "inputs": ["x"], "units": 64}],
                              inputs=[{"name": "x", "shape": [1, k]}]))
    hw = parse_hardware({
        "name": "tiny_filter", "clock_mhz": 1000,
        "array": {"rows": 8, "cols": 8, "dataflow": dataflow},
        "sram": {"ifmap_kib": 64, "filter_kib": filter_kib, "ofmap_kib": 64},
        "dram": {"bytes_per_cycle": 10, "latency_ns": latency_ns}, "vector": {"lanes": 32}},
        "<test>")
    kernels = lower(graph)
    cycles = [map_and_time(build_schedule(kernels, hw, exact=exact), graph, trace=False)[2]
              .cycles for exact in (False, True)]
    if (dataflow, filter_kib, latency_ns) == ("os", 0.25, 100):
        assert 800 * 71 <= cycles[1] <= 800 * 73
    assert abs(cycles[0] - cycles[1]) <= TOLERANCE * cycles[1]
