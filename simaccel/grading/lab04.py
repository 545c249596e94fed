"""Lab 04's expected answers (design-space sweep), from the sweep's own results: the raw
``frame`` that ``simaccel.sweep`` returned (its parameter columns named by the dotted keys),
the area ``budget_mm2``, and for the knob exercise the ``base`` config and ``model``.
"""

from __future__ import annotations

import simaccel
from simaccel.grading import exercise
from simaccel.teaching import Tolerance

SIDE = "array.rows+array.cols"
SRAM = "sram.ifmap_kib+sram.filter_kib+sram.ofmap_kib"
BW = "dram.bandwidth_gbps"
OBJECTIVES = ["latency_s", "energy_pj", "area_mm2"]


def _ran(frame, workload: str):
    return frame[(frame.workload == workload) & (frame.error == "")]


@exercise("04.1", tolerance=Tolerance(rel=0.005),
          hint="MACs ÷ (PEs × clock): the array cannot do more than one MAC per PE per cycle")
def compute_bound_ms(model, base, side: int) -> float:
    """The compute bound (ms) of ``model`` on ``base`` with a ``side × side`` array: its MACs
    over the peak MACs per second (to 0.5%)."""
    from simaccel.pipeline import prepare
    macs = sum(kernel.macs for kernel in prepare(model).kernels)
    return macs / (side * side * base.clock_mhz * 1e6) * 1e3


@exercise("04.2", hint="a design is optimal if no other is at least as good on all three "
                       "objectives and strictly better on one")
def front_at_lowest_bandwidth(frame) -> int:
    """ResNet-18 designs at the sweep's lowest bandwidth that are Pareto-optimal over
    (latency, energy, area) among the designs at that bandwidth."""
    resnet = _ran(frame, "resnet18")
    return len(simaccel.pareto_front(resnet[resnet[BW] == resnet[BW].min()], OBJECTIVES))


@exercise("04.3", tolerance=Tolerance(rel=1e-6),
          hint="array: PEs × mm² per int8 PE; total: + 3 buffers × KiB × mm²/KiB + lanes × "
               "mm²/lane")
def area_64(frame) -> tuple[float, float]:
    """(array mm², total mm²) of the design with a 64 × 64 array and three 64 KiB buffers."""
    row = frame[(frame[SIDE] == 64) & (frame[SRAM] == 64)].iloc[0]
    return float(row.array_mm2), float(row.area_mm2)


@exercise("04.4", hint="filter on area_mm2, then the minimum latency_s; ties: smaller area, "
                       "then lower bandwidth")
def fastest_within_half_budget(frame, budget_mm2: float) -> tuple[int, int, int]:
    """(side, KiB, GB/s) of MobileNetV2's fastest design within half the area budget."""
    mobile = _ran(frame, "mobilenet_v2")
    best = (mobile[mobile.area_mm2 <= budget_mm2 / 2]
            .sort_values(["latency_s", "area_mm2", BW]).iloc[0])
    return int(best[SIDE]), int(best[SRAM]), int(best[BW])


@exercise("04.5", tolerance=Tolerance(rel=1e-3), hint="cycles under OS ÷ cycles under WS")
def ws_speedup(model, base) -> float:
    """OS cycles over WS cycles of ``model`` on ``base`` resized to 64 × 64, 3 × 256 KiB,
    32 GB/s."""
    design = {SIDE: 64, SRAM: 256, BW: 32}
    cycles = {df: simaccel.simulate(model, simaccel.vary(base, design | {"array.dataflow": df}),
                                    check=False).to_dict()["total"]["cycles"]
              for df in ("os", "ws")}
    return cycles["os"] / cycles["ws"]


@exercise("04.6", tolerance=Tolerance(rel=1e-6), hint="energy_dram_pj / energy_pj")
def dram_share_smallest(frame) -> float:
    """Share of the energy that goes to DRAM on ResNet-18's smallest-area design that ran."""
    resnet = _ran(frame, "resnet18")
    smallest = resnet.sort_values(["area_mm2", "latency_s"]).iloc[0]
    return float(smallest.energy_dram_pj / smallest.energy_pj)
