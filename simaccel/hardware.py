"""The accelerator: a systolic array with a dataflow, SRAM buffers, a DRAM channel, a vector
unit and datatypes. Frozen, validated pydantic models; every frontend (TOML, SCALE-Sim .cfg)
builds these and nothing downstream re-checks them."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from simaccel.domain import Dataflow, DType, Operand

_FROZEN = ConfigDict(frozen=True, extra="forbid")

#: Largest array side accepted (SCALE-Sim's studies go to 512; 16 Ki PEs a side is absurd).
MAX_ARRAY_SIDE = 16384
#: Largest SRAM buffer accepted: 16 GiB.
MAX_SRAM_KIB = 1 << 24


class ArrayConfig(BaseModel):
    """The systolic array: ``rows`` × ``cols`` PEs and the stationary operand."""

    model_config = _FROZEN
    rows: Annotated[int, Field(gt=0, le=MAX_ARRAY_SIDE)]
    cols: Annotated[int, Field(gt=0, le=MAX_ARRAY_SIDE)]
    dataflow: Dataflow

    @property
    def pes(self) -> int:
        """Number of processing elements (MACs per cycle at full use)."""
        return self.rows * self.cols


class DTypes(BaseModel):
    """Datatypes of the array's operands; outputs are written back in the input type."""

    model_config = _FROZEN
    input: Literal[DType.INT8, DType.INT16, DType.BF16, DType.FP16, DType.FP32] = DType.INT8
    weight: Literal[DType.INT8, DType.INT16, DType.BF16, DType.FP16, DType.FP32] = DType.INT8
    accumulator: Literal[DType.INT32, DType.FP32] = DType.INT32

    @model_validator(mode="after")
    def _consistent(self) -> DTypes:
        if self.input.is_integer != self.weight.is_integer:
            raise ValueError("input and weight must both be integer types or both float types")
        wanted = DType.INT32 if self.input.is_integer else DType.FP32
        if self.accumulator is not wanted:
            raise ValueError(f"{self.input.value} operands accumulate in {wanted.value}")
        return self


class SramConfig(BaseModel):
    """On-chip buffers, one per operand, in KiB."""

    model_config = _FROZEN
    ifmap_kib: Annotated[float, Field(gt=0, le=MAX_SRAM_KIB)]
    filter_kib: Annotated[float, Field(gt=0, le=MAX_SRAM_KIB)]
    ofmap_kib: Annotated[float, Field(gt=0, le=MAX_SRAM_KIB)]
    double_buffered: bool = True

    def size_bytes(self, operand: Operand) -> int:
        """Capacity of ``operand``'s buffer in bytes (both halves when double-buffered)."""
        kib = {Operand.IFMAP: self.ifmap_kib, Operand.FILTER: self.filter_kib,
               Operand.OFMAP: self.ofmap_kib}[operand]
        return int(kib * 1024)


class DramConfig(BaseModel):
    """One DRAM channel. Give ``bandwidth_gbps`` (gigabytes per second) or
    ``bytes_per_cycle`` (at the array clock); ``inf`` means unlimited bandwidth."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=True)
    bandwidth_gbps: Annotated[float, Field(gt=0, le=1e6)] | None = None
    bytes_per_cycle: Annotated[float, Field(gt=0)] | None = None
    latency_ns: Annotated[float, Field(ge=0, le=1e6)] = 100.0

    @model_validator(mode="after")
    def _one_bandwidth(self) -> DramConfig:
        if (self.bandwidth_gbps is None) == (self.bytes_per_cycle is None):
            raise ValueError("give exactly one of bandwidth_gbps and bytes_per_cycle")
        if self.bandwidth_gbps is not None and not math.isfinite(self.bandwidth_gbps):
            raise ValueError("bandwidth_gbps must be finite (use bytes_per_cycle = inf)")
        return self


class VectorConfig(BaseModel):
    """The vector unit for pooling, elementwise ops and activations."""

    model_config = _FROZEN
    lanes: Annotated[int, Field(gt=0, le=1 << 16)]


class EnergyConfig(BaseModel):
    """Energy per action. ``preset`` supplies every figure (see `simaccel.energy.PRESETS`);
    the other keys override it. ``mac_pj`` is by input datatype; ``sram_access_pj`` lists
    (buffer KiB, pJ per 64-bit access) points interpolated log-log; ``vector_pj_per_op`` has
    ``int`` and ``float``; ``static_mw`` defaults to 10% of the array's peak MAC power."""

    model_config = _FROZEN
    preset: Literal["horowitz_45nm", "eyeriss_relative"] = "horowitz_45nm"
    source: str | None = None
    mac_pj: dict[Literal["int8", "int16", "bf16", "fp16", "fp32"],
                 Annotated[float, Field(ge=0, le=1e4)]] | None = None
    sram_access_pj: list[tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(ge=0)]]] \
        | None = Field(default=None, min_length=1)
    dram_pj_per_byte: Annotated[float, Field(ge=0, le=1e6)] | None = None
    vector_pj_per_op: dict[Literal["int", "float"], Annotated[float, Field(ge=0, le=1e4)]] \
        | None = None
    static_mw: Annotated[float, Field(ge=0, le=1e7)] | None = None


class AreaConfig(BaseModel):
    """Silicon area per component, mm². ``preset`` supplies every figure (see
    `simaccel.area.PRESETS`); the other keys override it. ``pe_mm2`` is per PE by input
    datatype, ``sram_mm2_per_kib`` per KiB of buffer, ``vector_lane_mm2`` per vector lane."""

    model_config = _FROZEN
    preset: Literal["tpu_v1_28nm"] = "tpu_v1_28nm"
    source: str | None = None
    pe_mm2: dict[Literal["int8", "int16", "bf16", "fp16", "fp32"],
                 Annotated[float, Field(gt=0, le=1e3)]] | None = None
    sram_mm2_per_kib: Annotated[float, Field(gt=0, le=1e3)] | None = None
    vector_lane_mm2: Annotated[float, Field(gt=0, le=1e3)] | None = None


class Hardware(BaseModel):
    """A whole accelerator configuration."""

    model_config = _FROZEN
    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: str = ""
    clock_mhz: Annotated[float, Field(gt=0, le=10_000)]
    array: ArrayConfig
    dtypes: DTypes = DTypes()
    sram: SramConfig
    dram: DramConfig
    vector: VectorConfig
    energy: EnergyConfig = EnergyConfig()
    area: AreaConfig = AreaConfig()

    #: the file the user gave (set by the loaders) and its names for simaccel's fields
    _source: str | None = PrivateAttr(default=None)
    _labels: dict[str, str] = PrivateAttr(default_factory=dict)

    def where(self, field: str) -> tuple[str, str]:
        """(file, field) for a message about ``field`` (``sram.ifmap_kib``): the file the
        config came from and the field as that file names it (a .cfg key), else the config's
        name."""
        return (self._source or f"hardware {self.name}", self._labels.get(field, field))

    def with_source(self, source: str, labels: Mapping[str, str] | None = None) -> Hardware:
        """This config, remembering the file it was read from (for messages only)."""
        self._source = source
        self._labels = dict(labels or {})
        return self

    @property
    def dram_bytes_per_cycle(self) -> float:
        """DRAM bandwidth in bytes per array clock cycle (``inf`` when unlimited)."""
        if self.dram.bytes_per_cycle is not None:
            return self.dram.bytes_per_cycle
        assert self.dram.bandwidth_gbps is not None
        return self.dram.bandwidth_gbps * 1e9 / (self.clock_mhz * 1e6)

    @property
    def dram_latency_cycles(self) -> int:
        """DRAM access latency in array clock cycles."""
        return math.ceil(self.dram.latency_ns * self.clock_mhz / 1000)


def vary(hw: Hardware, changes: Mapping[str, Any]) -> Hardware:
    """``hw`` with dotted config fields changed and validated again: ``{"array.rows": 32}``;
    a key ``"array.rows+array.cols"`` sets both fields to one value. Setting one of the DRAM
    bandwidth fields drops the other. Raises pydantic's ``ValidationError`` for a value or a
    field the config does not accept."""
    data = copy.deepcopy(hw.model_dump(exclude_none=True))
    for key, value in changes.items():
        for dotted in key.split("+"):
            *parents, leaf = dotted.strip().split(".")
            node = data
            for part in parents:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"{dotted}: {part} is not a table")
            if leaf in ("bandwidth_gbps", "bytes_per_cycle"):
                node.pop("bytes_per_cycle" if leaf == "bandwidth_gbps" else "bandwidth_gbps",
                         None)
            node[leaf] = value
    label = ",".join(f"{k}={v}" for k, v in changes.items())
    data["name"] = f"{hw.name}[{label}]"[:128] if changes else hw.name
    return Hardware.model_validate(data)
