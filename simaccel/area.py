"""Area: an estimate in mm² from per-PE, per-KiB and per-lane figures (the config's
``[area]`` table), so that sweeps can weigh latency and energy against silicon.

Preset ``tpu_v1_28nm`` comes from the TPU v1 floor plan (Jouppi et al., "In-Datacenter
Performance Analysis of a Tensor Processing Unit", ISCA 2017): a die of at most 331 mm² in
28 nm, of which the 256×256 int8 matrix unit takes 24% and the 24 MiB Unified Buffer 29%.
Hence 0.24 · 331 / 65 536 mm² per int8 PE and 0.29 · 331 / 24 576 mm² per KiB of SRAM.
Assumptions beyond the paper: a vector lane is four int8 PEs; a PE grows with its
multiplier, about quadratically in operand width (int16 ×4, bf16 and fp16 ×3, fp32 ×9 of an
int8 PE; a bf16 multiplier is 8×8 bits but carries an exponent adder and normaliser).
"""

from __future__ import annotations

from dataclasses import dataclass

from simaccel.hardware import Hardware

TPU_V1_DIE_MM2 = 331.0
_PE_INT8 = 0.24 * TPU_V1_DIE_MM2 / (256 * 256)

#: Area figures per preset: mm² per PE by input datatype, per KiB of SRAM, per vector lane.
PRESETS: dict[str, dict] = {
    "tpu_v1_28nm": {
        "pe_mm2": {"int8": _PE_INT8, "int16": 4 * _PE_INT8, "bf16": 3 * _PE_INT8,
                   "fp16": 3 * _PE_INT8, "fp32": 9 * _PE_INT8},
        "sram_mm2_per_kib": 0.29 * TPU_V1_DIE_MM2 / (24 * 1024),
        "vector_lane_mm2": 4 * _PE_INT8,
        "source": "Jouppi et al., ISCA 2017: TPU v1 floor plan, 28 nm (MXU 24%, Unified "
                  "Buffer 29% of <=331 mm2); wider PEs scaled by multiplier width "
                  "(assumption)",
    },
}


@dataclass(frozen=True)
class AreaTable:
    """The figures in use: mm² per PE (of the config's input type), per KiB, per lane."""

    pe_mm2: float
    sram_mm2_per_kib: float
    vector_lane_mm2: float
    source: str


@dataclass(frozen=True)
class Area:
    """Area of the main blocks, mm²."""

    array_mm2: float
    sram_mm2: float
    vector_mm2: float
    table: AreaTable

    @property
    def total_mm2(self) -> float:
        """Array + SRAM + vector unit, mm² (I/O, DRAM PHY and control are not counted)."""
        return self.array_mm2 + self.sram_mm2 + self.vector_mm2


def area_table(hw: Hardware) -> AreaTable:
    """The preset of ``hw.area`` with its overrides applied."""
    cfg = hw.area
    preset = PRESETS[cfg.preset]
    per_pe = {**preset["pe_mm2"], **(cfg.pe_mm2 or {})}
    overridden = cfg.pe_mm2 or cfg.sram_mm2_per_kib or cfg.vector_lane_mm2
    source = cfg.source or (preset["source"] + (" with overrides" if overridden else ""))
    return AreaTable(
        pe_mm2=per_pe[hw.dtypes.input.value],
        sram_mm2_per_kib=cfg.sram_mm2_per_kib or preset["sram_mm2_per_kib"],
        vector_lane_mm2=cfg.vector_lane_mm2 or preset["vector_lane_mm2"],
        source=source)


def area(hw: Hardware) -> Area:
    """Estimated area of ``hw``, mm²: PEs, every on-chip memory (both halves when
    double-buffered: the size in the config is the whole buffer) and the vector lanes, of
    every core."""
    table = area_table(hw)
    cores = hw.chip.cores
    sram_kib = sum(memory.kib for memory in hw.memory_list)
    return Area(array_mm2=cores * hw.array.pes * table.pe_mm2,
                sram_mm2=cores * sram_kib * table.sram_mm2_per_kib,
                vector_mm2=cores * hw.vector.lanes * table.vector_lane_mm2, table=table)
