"""Lab 01's expected answers (systolic dataflows), from the lab's array size ``rows × cols``.

Every figure is simulated on ``teaching.ideal_hardware`` (memory out of the way), so it is the
array's own fill + stream + drain arithmetic; none is typed in.
"""

from __future__ import annotations

from simaccel import teaching
from simaccel.grading import exercise
from simaccel.hardware import vary
from simaccel.teaching import Tolerance

#: The exercises' layers: (h, w, c_in, filters, kernel). The section-1 layer, the 3×3
#: "exercise layer" of exercises 2–4 and 6, and the pointwise layer of exercise 5.
IM2COL_LAYER = (8, 8, 4, 8, 3)
EXERCISE_LAYER = (16, 16, 16, 24, 3)
POINTWISE_LAYER = (32, 32, 4, 8, 1)
DATAFLOWS = ("os", "ws", "is")


def _row(layer: tuple, rows: int, cols: int, dataflow: str, **changes: object) -> dict:
    h, w, c_in, filters, kernel = layer
    hw = vary(teaching.ideal_hardware(rows, cols, dataflow), changes) if changes else \
        teaching.ideal_hardware(rows, cols, dataflow)
    return teaching.first_layer(teaching.conv_model(h, w, c_in, filters, kernel), hw)


@exercise("01.1", hint="folds = ⌈rows extent / R⌉ · ⌈cols extent / C⌉; which GEMM dimension "
                       "sits on the rows and which on the columns under each dataflow?")
def folds_per_dataflow(rows: int, cols: int) -> tuple[int, ...]:
    """(OS, WS, IS) folds of the section-1 layer on a rows × cols array."""
    return tuple(_row(IM2COL_LAYER, rows, cols, df)["folds"] for df in DATAFLOWS)


@exercise("01.2", hint="WS: ⌈K/R⌉ · ⌈N/C⌉ with K = kh·kw·C_in")
def ws_folds(rows: int, cols: int) -> int:
    """Folds of the exercise layer under WS."""
    return _row(EXERCISE_LAYER, rows, cols, "ws")["folds"]


@exercise("01.3", hint="folds × (K + R + C − 2) − 1")
def os_cycles(rows: int, cols: int) -> int:
    """Compute cycles of the exercise layer under OS."""
    return _row(EXERCISE_LAYER, rows, cols, "os")["compute_cycles"]


@exercise("01.4", tolerance=Tolerance(abs=5e-4),
          hint="MACs = M·K·N over R·C·cycles; memory is ideal, so cycles = compute cycles")
def ws_utilization(rows: int, cols: int) -> float:
    """Utilization of the exercise layer under WS (0..1, to 4 decimals: abs 5e-4)."""
    return _row(EXERCISE_LAYER, rows, cols, "ws")["utilization"]


@exercise("01.5", hint="stream the large dimension, so fill/drain is paid in few folds")
def fastest_dataflow(rows: int, cols: int) -> str:
    """The dataflow ("os", "ws" or "is") with the fewest compute cycles on the pointwise layer."""
    cycles = {df: _row(POINTWISE_LAYER, rows, cols, df)["compute_cycles"] for df in DATAFLOWS}
    return min(cycles, key=cycles.get)


@exercise("01.6", hint="2R and 2C in both the folds and the fill/drain")
def doubled_array_cycles(rows: int, cols: int) -> int:
    """Compute cycles of the exercise layer under OS on a 2·rows × 2·cols array."""
    return _row(EXERCISE_LAYER, 2 * rows, 2 * cols, "os")["compute_cycles"]
