"""The numpy meaning of ONNX's selecting ops with more than one output (TopK), for
`simaccel.ops_onnx`: operands in ONNX order as float64 arrays. The frontend emits one layer
per output, each with the attribute ``output_index`` saying which output it computes."""

from __future__ import annotations

import numpy as np

from simaccel.ops_onnx_move import as_int


def topk(v: list, a: dict) -> np.ndarray:
    """TopK (opset 11+): the ``K`` (second operand) largest (``largest=1``) or smallest
    elements along ``axis`` (default -1), sorted; equal values keep the lower index first,
    as the ONNX spec requires. ``output_index`` (set by the frontend) 0: the values, 1: their
    indices (float64 holding the integers). Raises KeyError without ``output_index`` and
    IndexError for one other than 0 or 1."""
    x = v[0]
    k = int(as_int(v[1]).reshape(-1)[0])
    axis = int(a.get("axis", -1)) % x.ndim
    keys = -x if int(a.get("largest", 1)) else x
    order = np.take(np.argsort(keys, axis=axis, kind="stable"), np.arange(k), axis=axis)
    return (np.take_along_axis(x, order, axis=axis), order.astype(np.float64))[
        int(a["output_index"])]
