"""Lab 07's expected answers (mapping, reuse and energy per memory level), from the lab's
parameters: the ``array`` side, the conv ``layer`` (H, W, C_in, filters, kernel) and the three
SRAM buffers ``buffers_kib`` of ``teaching_8x8`` (whose energy preset is Eyeriss's relative
costs).

Every figure comes from a simulation (the report, or the bytes per memory level
``teaching.memory_traffic`` reads from it); none is typed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import simaccel
from simaccel import teaching
from simaccel.grading import exercise
from simaccel.teaching import Tolerance

DATAFLOWS = ("os", "ws", "is")


def lab_hardware(array: int, buffers_kib: Sequence[float], dataflow: str = "os"):
    """``teaching_8x8`` with an ``array × array`` array, the lab's buffers and ``dataflow``."""
    ifmap, filt, ofmap = buffers_kib
    return simaccel.vary(simaccel.load_hardware("teaching_8x8"), {
        "array.rows": array, "array.cols": array, "array.dataflow": dataflow,
        "sram.ifmap_kib": ifmap, "sram.filter_kib": filt, "sram.ofmap_kib": ofmap})


def lab_layer(layer: Sequence[int]):
    """The lab's conv layer: stride 1, "same" padding."""
    h, w, c_in, filters, kernel = layer
    return teaching.conv_model(h, w, c_in, filters, kernel)


def _report(layer, array, buffers_kib, dataflow) -> dict:
    return simaccel.simulate(lab_layer(layer), lab_hardware(array, buffers_kib, dataflow),
                             check=False).to_dict()


@exercise("07.1", hint="count the iterations of the loops that do not index the operand")
def reuse_per_element(layer: Sequence[int], array: int,
                      buffers_kib: Sequence[float]) -> tuple[int, int, int]:
    """(MACs per weight, MACs per interior input pixel value, MACs per output value): the
    loop nest's reuse of each operand, from the simulated GEMM (M output pixels, K = kh·kw·C_in,
    N filters) and the kernel size."""
    gemm = _report(layer, array, buffers_kib, "os")["layers"][0]["kernel"]
    kernel = layer[4]
    return gemm["m"], kernel * kernel * gemm["n"], gemm["k"]


@exercise("07.2", hint="under OS every row fold (of R output pixels) streams the weights "
                       "its outputs need")
def os_filter_reads(layer: Sequence[int], array: int, buffers_kib: Sequence[float]) -> int:
    """Bytes the array reads from the filter buffer under OS."""
    return teaching.memory_traffic(lab_layer(layer),
                                   lab_hardware(array, buffers_kib, "os"))["filter"]["read"]


@exercise("07.3", hint="each MAC consumes one input and one weight; the SRAM supplied only "
                       "some of them")
def os_forwarded(layer: Sequence[int], array: int, buffers_kib: Sequence[float]) -> int:
    """Operand deliveries inside the array under OS that come from a neighbour PE, not from
    SRAM: 2 · MACs − (ifmap + filter elements read from SRAM), int8 operands."""
    model, hw = lab_layer(layer), lab_hardware(array, buffers_kib, "os")
    levels = teaching.memory_traffic(model, hw)
    macs = teaching.first_layer(model, hw)["macs"]
    return 2 * macs - levels["ifmap"]["read"] - levels["filter"]["read"]


@exercise("07.4", tolerance=Tolerance(rel=1e-9),
          hint="OS keeps a partial sum in its PE until the output is done; WS sends one to "
               "the ofmap buffer (and reads it back) per K-fold")
def ofmap_energy_ws_over_os(layer: Sequence[int], array: int,
                            buffers_kib: Sequence[float]) -> float:
    """The ofmap memory's SRAM energy under WS over that under OS."""
    energy = {df: _report(layer, array, buffers_kib, df)["total"]["energy_sram_pj_by_memory"]
              ["ofmap"] for df in ("os", "ws")}
    return energy["ws"] / energy["os"]


@exercise("07.5", hint="add up each dataflow's bytes per level times the price per byte")
def least_energy_dataflow(layer: Sequence[int], array: int,
                          buffers_kib: Sequence[float]) -> str:
    """The dataflow ("os", "ws" or "is") whose run of the layer takes the least energy."""
    total = {df: _report(layer, array, buffers_kib, df)["total"]["energy_pj"]["total"]
             for df in DATAFLOWS}
    return min(total, key=total.get)


@exercise("07.6", hint="twice the columns: half the column folds; twice the rows: half the "
                       "row folds (rounded up)")
def doubled_array_reads(layer: Sequence[int], array: int,
                        buffers_kib: Sequence[float]) -> int:
    """Bytes the array reads from the ifmap and filter buffers under OS on a 2·array ×
    2·array array."""
    levels = teaching.memory_traffic(lab_layer(layer),
                                     lab_hardware(2 * array, buffers_kib, "os"))
    return levels["ifmap"]["read"] + levels["filter"]["read"]
