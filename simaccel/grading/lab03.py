"""Lab 03's expected answers (datatypes and pruning), from objects the lab passes in: the
trained ``weights`` of the digits CNN (``{"conv1.kernel": array, …}``), its ``model`` (a
``Model`` batched to the held-out digits) and the lab's hardware ``hw``.

The figures come from simaccel's own quantizer (``numerics.quant``), tiler and simulator.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import simaccel
from simaccel import teaching
from simaccel.domain import DType
from simaccel.grading import exercise
from simaccel.teaching import Tolerance


def _with_dtype(hw, dtype: str):
    accumulator = "int32" if DType(dtype).is_integer else "fp32"
    return simaccel.vary(hw, {"dtypes.input": dtype, "dtypes.weight": dtype,
                              "dtypes.accumulator": accumulator})


def _layers(model, hw) -> dict[str, dict]:
    rows = simaccel.simulate(model, hw, check=False).to_dict()["layers"]
    return {r["name"]: r for r in rows}


def magnitude_prune(w: np.ndarray, fraction: float) -> np.ndarray:
    """``w`` with its ``round(fraction · size)`` smallest-magnitude entries set to zero (ties
    broken by position: a stable sort), the rule of the lab's section 4."""
    k = int(round(fraction * w.size))
    flat = w.copy().reshape(-1)
    flat[np.argsort(np.abs(flat), kind="stable")[:k]] = 0.0
    return flat.reshape(w.shape)


@exercise("03.1", tolerance=Tolerance(abs=0.5),
          hint="each bit halves the step: the noise power falls 4×, about 6.02 dB per bit")
def int16_sqnr(weights: Mapping[str, np.ndarray]) -> float:
    """SQNR (dB) of fc1's weights quantized per tensor to int16 (to ± 0.5 dB)."""
    from simaccel.numerics import quant
    w = np.asarray(weights["fc1.kernel"], dtype=np.float64)
    return float(quant.sqnr_db(w, quant.to_accelerator(w, DType.INT16).real()))


@exercise("03.2", tolerance=Tolerance(rel=1e-6),
          hint="max |w| over the filter's 3·3·16 weights, over 127")
def conv2_filter7_scale(weights: Mapping[str, np.ndarray]) -> float:
    """The symmetric int8 scale of conv2's filter 7, as simaccel computes per-channel scales."""
    from simaccel.numerics import quant
    w2 = np.asarray(weights["conv2.kernel"], dtype=np.float64)
    return float(quant.scale_for(np.abs(w2.reshape(-1, w2.shape[-1])).max(axis=0),
                                 DType.INT8)[7])


@exercise("03.3", tolerance=Tolerance(rel=1e-9),
          hint="4·(inputs + weights) + 4·biases over 1·(inputs + weights) + 4·biases")
def fc1_bytes_ratio(model, hw) -> float:
    """fp32 over int8 DRAM footprint of fc1's operands (input, weights, biases)."""
    from simaccel.kernels import GemmKernel
    from simaccel.pipeline import prepare
    from simaccel.tiling import gemm_bytes
    fc1 = next(k for k in prepare(model).kernels
               if isinstance(k, GemmKernel) and k.name == "fc1")
    size = {dt: gemm_bytes(fc1, _with_dtype(hw, dt)) for dt in ("int8", "fp32")}
    return (size["fp32"].ifmap + size["fp32"].filter) / (size["int8"].ifmap
                                                          + size["int8"].filter)


@exercise("03.4", hint="'valid' shrinks each side by kh − 1; M = batch · Ho · Wo")
def conv2_valid_macs(hw, batch: int) -> int:
    """MACs of conv2 (3×3, 16 → 32) with 'valid' padding on ``batch`` inputs of 4×4×16."""
    model = teaching.conv_model(4, 4, 16, 32, 3, padding="valid", batch=batch, name="conv2")
    return teaching.first_layer(model, hw)["macs"]


@exercise("03.5", tolerance=Tolerance(rel=1e-9),
          hint="each nonzero weight is used once per GEMM output row (M times)")
def ideal_macs_at_80(weights: Mapping[str, np.ndarray], model, hw) -> float:
    """MACs an ideal zero-skipping design does for the batch with 80% of each conv/dense
    layer's weights pruned: Σ over GEMM layers of dense MACs × weight density."""
    total = 0.0
    for name, row in _layers(model, hw).items():
        if row["kernel"]["type"] == "gemm":
            pruned = magnitude_prune(np.asarray(weights[f"{name}.kernel"]), 0.8)
            total += row["macs"] * np.count_nonzero(pruned) / pruned.size
    return total


@exercise("03.6", tolerance=Tolerance(rel=1e-9), hint="MACs × pJ per bf16 MAC")
def conv2_bf16_mac_energy(model, hw) -> float:
    """MAC energy (pJ) of conv2 for the batch in bf16 on ``hw``."""
    return _layers(model, _with_dtype(hw, "bf16"))["conv2"]["energy_pj"]["mac"]


@exercise("03.7", tolerance=Tolerance(rel=0.0), hint="half the values, plus 2 bits for each")
def conv2_nm_weight_bytes(model, hw) -> int:
    """Bytes of conv2's 2:4-pruned int8 weights as the N:M array stores them (kept values
    and their indices), from simaccel's storage model (`sparse_hw.execution`)."""
    from simaccel.pipeline import prepare
    from simaccel.sparse_hw import execution

    kernel = next(k for k in prepare(model).kernels if k.name == "conv2")
    return execution(kernel, hw).weight_bytes


@exercise("03.8", tolerance=Tolerance(rel=1e-9), hint="half the MACs, each a MAC plus the mux")
def conv2_nm_mac_energy(model, hw, inputs: Mapping[str, np.ndarray]) -> float:
    """MAC energy (pJ) of conv2 of the 2:4-pruned model on the N:M array for ``inputs``."""
    report = simaccel.simulate(model, hw, check=False, inputs=inputs)
    row = next(i for i, r in enumerate(report.results.layers) if r.work.kernel.name == "conv2")
    return report.energy.layers[row].mac
