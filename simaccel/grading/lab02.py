"""Lab 02's expected answers (memory, tiling and bandwidth), from the lab's parameters: the
DRAM ``bandwidth`` (bytes per cycle) and the three SRAM buffers ``buffers_kib`` (ifmap,
filter, ofmap KiB) of ``teaching_8x8``.

Every figure comes from a simulation (``report.json`` fields); none is typed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import simaccel
from simaccel import teaching
from simaccel.grading import exercise
from simaccel.teaching import Tolerance

#: The MNIST CNN of sections 3–5 (workloads/mnist_cnn.json) as a dict, so the grader needs no
#: file: a 28×28×1 image, conv 32 3×3 valid, pool 2, conv 64 3×3 valid, pool 2, flatten,
#: dense 64, dense 10.
MNIST = {
    "format": "simaccel-model/1", "name": "mnist_cnn",
    "inputs": [{"name": "image", "shape": [1, 28, 28, 1]}],
    "layers": [
        {"name": "conv1", "op": "conv2d", "inputs": ["image"], "filters": 32, "kernel": 3,
         "activation": "relu"},
        {"name": "pool1", "op": "maxpool2d", "inputs": ["conv1"], "pool": 2},
        {"name": "conv2", "op": "conv2d", "inputs": ["pool1"], "filters": 64, "kernel": 3,
         "activation": "relu"},
        {"name": "pool2", "op": "maxpool2d", "inputs": ["conv2"], "pool": 2},
        {"name": "flatten", "op": "flatten", "inputs": ["pool2"]},
        {"name": "fc1", "op": "dense", "inputs": ["flatten"], "units": 64, "activation": "relu"},
        {"name": "fc2", "op": "dense", "inputs": ["fc1"], "units": 10, "activation": "softmax"},
    ],
}


def lab_hardware(bandwidth: float, buffers_kib: Sequence[float]):
    """``teaching_8x8`` with the lab's DRAM bandwidth (bytes/cycle) and buffer sizes (KiB)."""
    ifmap, filt, ofmap = buffers_kib
    return simaccel.vary(simaccel.load_hardware("teaching_8x8"), {
        "dram.bytes_per_cycle": bandwidth, "sram.ifmap_kib": ifmap,
        "sram.filter_kib": filt, "sram.ofmap_kib": ofmap})


def _moved(row: dict) -> int:
    return row["dram_read_bytes"] + row["dram_write_bytes"]


def _regime(model, hw) -> str:
    row = teaching.first_layer(model, hw)
    return "compute" if row["macs"] / _moved(row) >= hw.array.pes / hw.dram_bytes_per_cycle \
        else "bandwidth"


@exercise("02.1", hint="under mnk, A is read once if tk = K, else once per column block; B "
                       "once if it fits one tile, else once per row block")
def square_reads(bandwidth: float, buffers_kib: Sequence[float]) -> int:
    """DRAM bytes read by the 256³ int8 GEMM (no bias) on the lab's hardware."""
    return teaching.first_layer(teaching.gemm_model(256, 256, 256),
                                lab_hardware(bandwidth, buffers_kib))["dram_read_bytes"]


@exercise("02.3", hint="M·K + K·N int8 bytes, plus 4 bytes of bias per output channel")
def compulsory_with_bias(bandwidth: float, buffers_kib: Sequence[float]) -> int:
    """DRAM reads of a 64×256×128 dense layer with bias, 256 KiB single-buffered buffers."""
    huge = simaccel.vary(lab_hardware(bandwidth, buffers_kib), {
        "sram.ifmap_kib+sram.filter_kib+sram.ofmap_kib": 256, "sram.double_buffered": False})
    return teaching.first_layer(teaching.gemm_model(64, 256, 128, bias=True),
                                huge)["dram_read_bytes"]


@exercise("02.4", hint="count how many times each of A and B is read under the plan's order")
def refetch_reads(bandwidth: float, buffers_kib: Sequence[float]) -> int:
    """DRAM reads of a 128×512×128 GEMM (no bias) on the lab's hardware."""
    return teaching.first_layer(teaching.gemm_model(128, 512, 128),
                                lab_hardware(bandwidth, buffers_kib))["dram_read_bytes"]


@exercise("02.5", tolerance=Tolerance(rel=1e-3), hint="peak MACs/cycle ÷ bytes/cycle")
def scalesim_ridge() -> float:
    """Ridge point (MACs per DRAM byte) of ``scalesim_default``."""
    hw = simaccel.load_hardware("scalesim_default")
    return hw.array.pes / hw.dram_bytes_per_cycle


@exercise("02.6", hint="I = M·K·N / (M·K + K·N + M·N); compare with P / B of each machine")
def tall_regimes() -> tuple[str, str]:
    """("compute" or "bandwidth") of the 16384×64×64 GEMM on ``gemmini`` and on
    ``scalesim_default``, from the simulated intensity against each ridge."""
    tall = teaching.gemm_model(16384, 64, 64)
    return (_regime(tall, simaccel.load_hardware("gemmini")),
            _regime(tall, simaccel.load_hardware("scalesim_default")))


@exercise("02.7", tolerance=Tolerance(rel=1e-3), hint="(M·K + K·N + M·N) bytes ÷ B")
def skinny_floor(bandwidth: float, buffers_kib: Sequence[float]) -> float:
    """Cycles the 1×2048×4096 GEMM's DRAM bytes take at the lab's bandwidth (64 KiB ifmap
    and filter buffers): its bandwidth floor."""
    hw = simaccel.vary(lab_hardware(bandwidth, buffers_kib),
                       {"sram.ifmap_kib": 64, "sram.filter_kib": 64})
    return _moved(teaching.first_layer(teaching.gemm_model(1, 2048, 4096), hw)) / bandwidth


def _mnist_totals(hw) -> dict:
    return simaccel.simulate(teaching.model_from_dict(MNIST, "mnist_cnn"), hw,
                             check=False).to_dict()


@exercise("02.2", hint="every intermediate activation: written once, read back once")
def residency_prediction(bandwidth: float, buffers_kib: Sequence[float]) -> int:
    """Twice the bytes of the MNIST CNN's intermediate activations (every layer's output but
    the model's), as the split-buffer run writes them: what 32 KiB of resident space saves if
    each is written once and read back once (re-fetches of an input come on top)."""
    layers = _mnist_totals(lab_hardware(bandwidth, buffers_kib))["layers"]
    return 2 * sum(r["dram_write_bytes"] for r in layers[:-1])


@exercise("02.8", hint="a tensor is placed only if it fits beside those live over its whole "
                       "live range")
def spills(bandwidth: float, buffers_kib: Sequence[float]) -> tuple[str, ...]:
    """Names of the MNIST CNN's layers whose output spills with 24 KiB resident space."""
    hw = teaching.with_resident(lab_hardware(bandwidth, buffers_kib), 24)
    return tuple(r["name"] for r in _mnist_totals(hw)["layers"] if r["memory"]["spilled_bytes"])
