"""Energy: Σ action count × energy per action (Accelergy's model), a pure function of the
schedule's actions, the hardware's energy table and the run's cycles. Units: picojoules.

Actions per kernel: useful MACs; bytes read and written in each SRAM buffer (an access
costs more in a bigger buffer); bytes to and from DRAM; vector-unit operations (standalone
kernels and activations fused into a GEMM's output path); and static power over the
kernel's cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from simaccel.domain import Operand
from simaccel.errors import InputError
from simaccel.hardware import MAX_ACTION_PJ, Hardware
from simaccel.kernels import GemmKernel
from simaccel.results import Results
from simaccel.schedule import LayerSchedule, Traffic

#: Energy presets: every figure with its source.
PRESETS: dict[str, dict] = {
    "horowitz_45nm": {
        "source": "M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
                  "ISSCC 2014, 45 nm, 0.9 V",
        # a MAC = multiply + accumulate-add: int8 0.2 + 32b add 0.1; int16 multiply scaled
        # quadratically from 8b (0.8) + 0.1; bf16/fp16 16b FP mult 1.1 + 32b FP add 0.9;
        # fp32 3.7 + 0.9
        "mac_pj": {"int8": 0.3, "int16": 0.9, "bf16": 2.0, "fp16": 2.0, "fp32": 4.6},
        # 64-bit SRAM access: 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ
        "sram_access_pj": [(8.0, 10.0), (32.0, 20.0), (1024.0, 100.0)],
        # DRAM 1.3-2.6 nJ per 64-bit access: the midpoint, 1.95 nJ / 8 B
        "dram_pj_per_byte": 1950.0 / 8,
        # a vector op ~ one 32-bit add: int 0.1 pJ, FP 0.9 pJ
        "vector_pj_per_op": {"int": 0.1, "float": 0.9},
    },
    "eyeriss_relative": {
        "source": "Y.-H. Chen, J. Emer, V. Sze, 'Eyeriss: a spatial architecture for "
                  "energy-efficient dataflow for CNNs', ISCA 2016: data movement relative to "
                  "a MAC (ALU 1x, global buffer 6x, DRAM 200x per 16-bit word), one unit = "
                  "Horowitz's 45 nm int8 MAC (0.3 pJ)",
        "mac_pj": {"int8": 0.3, "int16": 0.9, "bf16": 2.0, "fp16": 2.0, "fp32": 4.6},
        "sram_access_pj": [(1.0, 6 * 0.3 * 4)],  # 6 units per 2 B: 3.6 pJ per 8 B, any size
        "dram_pj_per_byte": 200 * 0.3 / 2,
        "vector_pj_per_op": {"int": 0.3, "float": 0.3},
    },
}

#: Static power when a config gives none: this share of the array's peak MAC power.
STATIC_SHARE = 0.10


@dataclass(frozen=True)
class EnergyTable:
    """The energy figures one hardware config uses."""

    mac_pj: float
    sram_access_pj: tuple[tuple[float, float], ...]
    dram_pj_per_byte: float
    vector_pj_per_op: float
    static_mw: float
    source: str

    def sram_pj_per_byte(self, size_kib: float) -> float:
        """pJ per byte of a buffer of ``size_kib``: 64-bit access energy interpolated
        log-log between the table's points (extended along the end slopes), over 8 bytes."""
        points = self.sram_access_pj
        if len(points) == 1:
            return points[0][1] / 8
        logs = [(math.log(k), math.log(e)) for k, e in points]
        x = math.log(size_kib)
        i = 0 if x <= logs[0][0] else len(logs) - 2
        for j in range(len(logs) - 1):
            if logs[j][0] <= x <= logs[j + 1][0]:
                i = j
        (x0, y0), (x1, y1) = logs[i], logs[i + 1]
        return math.exp(y0 + (y1 - y0) * (x - x0) / (x1 - x0)) / 8


def energy_table(hw: Hardware) -> EnergyTable:
    """Resolve ``hw``'s [energy] preset and overrides into the figures it uses."""
    cfg = hw.energy
    preset = PRESETS[cfg.preset]
    macs = {**preset["mac_pj"], **(cfg.mac_pj or {})}
    vector = {**preset["vector_pj_per_op"], **(cfg.vector_pj_per_op or {})}
    mac_pj = macs[hw.dtypes.input.value]
    static = cfg.static_mw if cfg.static_mw is not None else (
        STATIC_SHARE * hw.array.pes * mac_pj * hw.clock_mhz * 1e6 * 1e-12 * 1e3)
    table = EnergyTable(
        mac_pj=mac_pj,
        # any order in the file; interpolation walks them by size
        sram_access_pj=tuple(sorted(cfg.sram_access_pj or preset["sram_access_pj"])),
        dram_pj_per_byte=cfg.dram_pj_per_byte if cfg.dram_pj_per_byte is not None
        else preset["dram_pj_per_byte"],
        vector_pj_per_op=vector["int" if hw.dtypes.input.is_integer else "float"],
        static_mw=static,
        source=cfg.source or preset["source"])
    _check_sram_points(table, hw)
    return table


#: The most pJ per byte an interpolated SRAM access may cost (10^6 pJ per 8-byte access).
MAX_SRAM_PJ_PER_BYTE = MAX_ACTION_PJ / 8


def _check_sram_points(table: EnergyTable, hw: Hardware) -> None:
    """The SRAM table, read at this config's buffer sizes, must give a positive, bounded
    energy: points whose log-log slope is extreme (two sizes almost equal, or energies
    decades apart) extrapolate to 0 or to overflow, which is refused naming the field."""
    for operand in Operand:
        kib = hw.sram.size_bytes(operand) / 1024
        try:
            value = table.sram_pj_per_byte(kib)
        except OverflowError:
            value = math.inf
        if not 0 < value <= MAX_SRAM_PJ_PER_BYTE:
            raise InputError(*hw.where("energy.sram_access_pj"),
                             f"gives {value:.3g} pJ per byte for the {kib:g} KiB "
                             f"{operand.value} buffer (log-log through the points), outside "
                             f"(0, {MAX_SRAM_PJ_PER_BYTE:g}]: give points nearer that size")


@dataclass(frozen=True)
class Energy:
    """Energy by component, in picojoules; energies add up."""

    mac: float = 0.0
    sram: float = 0.0
    dram: float = 0.0
    vector: float = 0.0
    static: float = 0.0

    @property
    def total(self) -> float:
        return self.mac + self.sram + self.dram + self.vector + self.static

    def __add__(self, other: Energy) -> Energy:
        return Energy(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def vector_ops(work: LayerSchedule) -> int:
    """Vector-unit operations of a kernel (its own, or fused into a GEMM's output)."""
    kernel = work.kernel
    return kernel.fused_vector_ops if isinstance(kernel, GemmKernel) else kernel.vector_ops


def kernel_energy(work: LayerSchedule, traffic: Traffic, cycles: int, table: EnergyTable,
                  hw: Hardware) -> Energy:
    """Energy of one kernel over ``cycles`` (pJ)."""
    sram = 0.0
    for operand in Operand:
        read, write = traffic.sram_bytes(operand)
        kib = hw.sram.size_bytes(operand) / 1024
        sram += (read + write) * table.sram_pj_per_byte(kib)
    return Energy(
        mac=work.kernel.macs * table.mac_pj,
        sram=sram,
        dram=(traffic.dram_read_bytes + traffic.dram_write_bytes) * table.dram_pj_per_byte,
        vector=vector_ops(work) * table.vector_pj_per_op,
        static=table.static_mw * 1e-3 * cycles / (hw.clock_mhz * 1e6) * 1e12)


@dataclass(frozen=True)
class EnergyReport:
    """Energy of every kernel (results' order), their sum and the table used."""

    layers: tuple[Energy, ...]
    total: Energy
    table: EnergyTable


def estimate(results: Results, hw: Hardware) -> EnergyReport:
    """Energy of a finished run: each kernel over its span, and the total (pJ)."""
    table = energy_table(hw)
    layers = tuple(kernel_energy(r.work, r.traffic, r.cycles, table, hw)
                   for r in results.layers)
    total = Energy()
    for energy in layers:
        total = total + energy
    return EnergyReport(layers=layers, total=total, table=table)
