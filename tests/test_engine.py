"""The simpy engine: exact event logs for hand-built schedules."""

from __future__ import annotations

from simaccel.kernels import GemmKernel, VectorKernel
from simaccel.schedule import LayerSchedule, Schedule, Tile, Traffic, Unit
from tests.helpers import ideal_hw, run_schedule


def _gemm_layer(name: str, tiles: list[int]) -> LayerSchedule:
    kernel = GemmKernel(name=name, op="dense", m=1, k=1, n=1, groups=1, ifmap_elements=1,
                        filter_elements=1, ofmap_elements=1)
    return LayerSchedule(kernel=kernel, unit=Unit.ARRAY, plan=None, tiles=tuple(
        Tile(index=i, folds=1, compute_cycles=c, traffic=Traffic(ifmap_read_bytes=10 * (i + 1)))
        for i, c in enumerate(tiles)))


def test_tiles_and_layers_run_back_to_back() -> None:
    """Layer 0 has tiles of 5 and 7 cycles on the array, layer 1 one vector tile of 3:
    array 0–5, array 5–12, vector 12–15."""
    pool = VectorKernel(name="p", op="maxpool2d", elements=12, ops_per_element=2,
                        input_elements=48, inputs=("g",))
    vector = LayerSchedule(kernel=pool, unit=Unit.VECTOR, plan=None,
                           tiles=(Tile(index=0, folds=0, compute_cycles=3, traffic=Traffic()),))
    schedule = Schedule(hardware=ideal_hw(4, 4, "os"),
                        layers=(_gemm_layer("g", [5, 7]), vector))
    result = run_schedule(schedule)
    assert [(e.unit, e.start, e.end, e.layer, e.tile, e.bytes) for e in result.trace] == [
        ("array", 0, 5, 0, 0, 0),
        ("array", 5, 12, 0, 1, 0),
        ("vector", 12, 15, 1, 0, 0),
    ]
    # the pool's window opens when the GEMM it reads is done
    assert [(s.start, s.end) for s in result.spans] == [(0, 12), (12, 15)]
    assert result.cycles == 15


def test_independent_kernels_run_side_by_side_on_their_units() -> None:
    """The same two kernels, but the pool reads nothing the GEMM writes: the vector unit
    runs it at once, beside the array (docs/architecture.md, "Engine")."""
    pool = VectorKernel(name="p", op="maxpool2d", elements=12, ops_per_element=2,
                        input_elements=48)
    vector = LayerSchedule(kernel=pool, unit=Unit.VECTOR, plan=None,
                           tiles=(Tile(index=0, folds=0, compute_cycles=3, traffic=Traffic()),))
    result = run_schedule(Schedule(hardware=ideal_hw(4, 4, "os"),
                                   layers=(_gemm_layer("g", [5, 7]), vector)))
    assert [(e.unit, e.start, e.end) for e in result.trace] == [
        ("vector", 0, 3), ("array", 0, 5), ("array", 5, 12)]
    assert result.cycles == 12
    assert [(s.start, s.end) for s in result.spans] == [(0, 12), (0, 3)]


def test_zero_cycle_kernels_take_no_time() -> None:
    flat = VectorKernel(name="f", op="flatten", elements=8, ops_per_element=0, input_elements=8)
    layer = LayerSchedule(kernel=flat, unit=Unit.VECTOR, plan=None,
                          tiles=(Tile(index=0, folds=0, compute_cycles=0, traffic=Traffic()),))
    result = run_schedule(Schedule(hardware=ideal_hw(4, 4, "os"), layers=(layer,)))
    assert result.cycles == 0
    assert [(s.start, s.end) for s in result.spans] == [(0, 0)]
