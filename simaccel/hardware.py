"""The accelerator: a systolic array with a dataflow, SRAM buffers, a DRAM channel, a vector
unit and datatypes. Frozen, validated pydantic models; every frontend (TOML, SCALE-Sim .cfg)
builds these and nothing downstream re-checks them."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from simaccel.bounds import Bool, Int, Real, RealOrInf, Str
from simaccel.domain import Dataflow, DType, Operand
from simaccel.errors import InputError
from simaccel.hardware_keys import clash, other_spellings

_FROZEN = ConfigDict(frozen=True, extra="forbid")

#: Largest array side accepted (SCALE-Sim's studies go to 512; 16 Ki PEs a side is absurd).
MAX_ARRAY_SIDE = 16384
#: Largest SRAM buffer accepted: 16 GiB; smallest: one byte.
MAX_SRAM_KIB = 1 << 24
MIN_SRAM_KIB = 1 / 1024
#: Clock bounds, MHz: 1 kHz to 10 GHz.
MIN_CLOCK_MHZ, MAX_CLOCK_MHZ = 1e-3, 10_000
#: DRAM bandwidth bounds (bytes_per_cycle may also be ``inf``, unlimited).
MIN_GBPS, MAX_GBPS = 1e-3, 1e6
MIN_BYTES_PER_CYCLE, MAX_BYTES_PER_CYCLE = 1e-3, 1e9
#: Largest energy per action (pJ) and static power (mW) accepted.
MAX_ACTION_PJ, MAX_STATIC_MW = 1e6, 1e7

Kib = Annotated[Real, Field(ge=MIN_SRAM_KIB, le=MAX_SRAM_KIB)]


class WeightPreload(StrEnum):
    """How a weight- or input-stationary array loads its next fold's stationary operand.

    ``serial`` (SCALE-Sim): every fold shifts its R rows in before streaming, R cycles of
    the array's time. ``overlapped`` (TPU v1's double-buffered weights, Jouppi et al., ISCA
    2017): the next fold's operand shifts in behind the current fold, so only the first
    fold pays it, and a fold whose stream is shorter than R waits for the shift.
    """

    SERIAL = "serial"
    OVERLAPPED = "overlapped"


class ArrayConfig(BaseModel):
    """The systolic array: ``rows`` × ``cols`` PEs, the stationary operand and how the
    stationary operand is preloaded."""

    model_config = _FROZEN
    rows: Annotated[Int, Field(gt=0, le=MAX_ARRAY_SIDE)]
    cols: Annotated[Int, Field(gt=0, le=MAX_ARRAY_SIDE)]
    dataflow: Dataflow
    weight_preload: WeightPreload = WeightPreload.SERIAL

    @property
    def pes(self) -> int:
        """Number of processing elements (MACs per cycle at full use)."""
        return self.rows * self.cols


class DTypes(BaseModel):
    """Datatypes of the array's operands; outputs are written back in the input type."""

    model_config = _FROZEN
    input: Literal[DType.INT8, DType.INT16, DType.BF16, DType.FP16, DType.FP32] = DType.INT8
    weight: Literal[DType.INT8, DType.INT16, DType.BF16, DType.FP16, DType.FP32] = DType.INT8
    accumulator: Literal[DType.INT32, DType.INT48, DType.FP32] = DType.INT32

    @model_validator(mode="after")
    def _consistent(self) -> DTypes:
        if self.input.is_integer != self.weight.is_integer:
            raise ValueError("input and weight must both be integer types or both float types")
        if self.accumulator.is_integer != self.input.is_integer:
            wanted = "int32 or int48" if self.input.is_integer else "fp32"
            raise ValueError(f"{self.input.value} operands accumulate in {wanted}")
        return self


class SramConfig(BaseModel):
    """On-chip buffers, one per operand, in KiB."""

    model_config = _FROZEN
    ifmap_kib: Kib
    filter_kib: Kib
    ofmap_kib: Kib
    double_buffered: Bool = True

    def size_bytes(self, operand: Operand) -> int:
        """Capacity of ``operand``'s buffer in bytes (both halves when double-buffered)."""
        kib = {Operand.IFMAP: self.ifmap_kib, Operand.FILTER: self.filter_kib,
               Operand.OFMAP: self.ofmap_kib}[operand]
        return int(kib * 1024)


class MemoryConfig(BaseModel):
    """One on-chip memory: ``kib`` KiB that hold the tiles of the operands in ``holds``.

    ``resident``: activations may also stay here from the kernel that produces them to the
    last kernel that reads them, instead of going through DRAM (TPU v1's Unified Buffer,
    Gemmini's scratchpad). Then ``stream_kib`` of it (default a quarter) is kept for the
    tiles that stream through it and the rest holds resident tensors; a memory that is not
    resident streams tiles through all of it. Several operands in one memory share its
    streaming space equally.
    """

    model_config = _FROZEN
    name: Annotated[Str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][\w]*$")]
    kib: Kib
    holds: Annotated[tuple[Operand, ...], Field(min_length=1, max_length=3)]
    resident: Bool = False
    stream_kib: Kib | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MemoryConfig:
        if len(set(self.holds)) != len(self.holds):
            raise ValueError("holds: an operand is listed twice")
        if self.stream_kib is not None and self.stream_kib > self.kib:
            raise ValueError(f"stream_kib ({self.stream_kib}) exceeds kib ({self.kib})")
        if self.resident and Operand.IFMAP not in self.holds:
            raise ValueError("a resident memory holds activations: add 'ifmap' to holds")
        if self.stream_bytes < len(self.holds):
            raise self._share_error()
        return self

    def _share_error(self) -> ValidationError:
        """The error of a memory whose streaming space gives an operand of ``holds`` less
        than one byte (the [sram] buffer bound, `MIN_SRAM_KIB`), located at the field the
        user wrote: ``stream_kib`` when given, else ``kib``."""
        from pydantic_core import InitErrorDetails, PydanticCustomError

        key = "stream_kib" if self.stream_kib is not None else "kib"
        quarter = self.resident and self.stream_kib is None
        least = len(self.holds) * (4 if quarter else 1) / 1024
        text = (f"{self.stream_bytes} byte(s) of streaming space"
                + (" (a resident memory streams through a quarter of kib)" if quarter else "")
                + f" shared by {len(self.holds)} operands "
                f"({', '.join(op.value for op in self.holds)}) leave each less than one byte; "
                f"give at least {least} KiB")
        return ValidationError.from_exception_data("MemoryConfig", [InitErrorDetails(
            type=PydanticCustomError("memory_share", text), loc=(key,),
            input=getattr(self, key))])

    @property
    def size_bytes(self) -> int:
        """Capacity in bytes."""
        return int(self.kib * 1024)

    @property
    def stream_bytes(self) -> int:
        """Bytes kept for streamed tiles (the rest, if resident, holds resident tensors)."""
        if self.stream_kib is not None:
            return int(self.stream_kib * 1024)
        return self.size_bytes // 4 if self.resident else self.size_bytes

    @property
    def resident_bytes(self) -> int:
        """Bytes that resident tensors may occupy."""
        return self.size_bytes - self.stream_bytes if self.resident else 0


class DramSharing(StrEnum):
    """How a chip's cores reach DRAM/HBM: one channel ``shared`` by every core (first come,
    first served), or a channel of the configured bandwidth ``per_core``."""

    SHARED = "shared"
    PER_CORE = "per_core"


class ChipConfig(BaseModel):
    """A chip of ``cores`` identical cores (each an array, a vector unit and the memories),
    sharing the DRAM channel or with one each (``dram``). The on-chip network joins the
    cores in a ring: ``noc_gbps`` per hop and direction (GB/s), ``noc_latency_ns`` per hop;
    collectives among a chip's cores run on it (`simaccel.collectives`). The defaults
    (1000 GB/s, 10 ns) are assumptions, not published figures: set them per chip."""

    model_config = _FROZEN
    cores: Annotated[Int, Field(gt=0, le=1024)] = 1
    dram: DramSharing = DramSharing.SHARED
    noc_gbps: Annotated[Real, Field(ge=MIN_GBPS, le=MAX_GBPS)] = 1000.0
    noc_latency_ns: Annotated[Real, Field(ge=0, le=1e6)] = 10.0


class Topology(StrEnum):
    """How a system's chips are linked: a bidirectional ``ring``, a 2-D ``mesh2d`` (the
    most nearly square rows × columns grid, dimension-ordered routing), or a ``switch``
    (every chip one link up to a non-blocking switch and one link down from it)."""

    RING = "ring"
    MESH2D = "mesh2d"
    SWITCH = "switch"


class SystemConfig(BaseModel):
    """``chips`` identical chips joined by chip-to-chip links of ``link_gbps`` GB/s in each
    direction and ``link_latency_ns`` per hop, in a ``topology``. One chip (the default)
    has no links. Default link: 50 GB/s, one TPU v4 ICI link per direction (Jouppi et al.,
    ISCA 2023, Table 1); 1 µs is an assumption (ICI latency is not published)."""

    model_config = _FROZEN
    chips: Annotated[Int, Field(gt=0, le=4096)] = 1
    topology: Topology = Topology.RING
    link_gbps: Annotated[Real, Field(ge=MIN_GBPS, le=MAX_GBPS)] = 50.0
    link_latency_ns: Annotated[Real, Field(ge=0, le=1e6)] = 1000.0


class DramConfig(BaseModel):
    """One DRAM channel. Give ``bandwidth_gbps`` (gigabytes per second) or
    ``bytes_per_cycle`` (at the array clock); ``inf`` means unlimited bandwidth."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=True)
    bandwidth_gbps: Annotated[Real, Field(ge=MIN_GBPS, le=MAX_GBPS)] | None = None
    bytes_per_cycle: Annotated[RealOrInf, Field(ge=MIN_BYTES_PER_CYCLE)] | None = None
    latency_ns: Annotated[Real, Field(ge=0, le=1e6)] = 100.0
    #: capacity of the chip's DRAM/HBM in GiB (None: not checked)
    capacity_gib: Annotated[Real, Field(gt=0, le=1e6)] | None = None

    @model_validator(mode="after")
    def _one_bandwidth(self) -> DramConfig:
        if (self.bandwidth_gbps is None) == (self.bytes_per_cycle is None):
            raise ValueError("give exactly one of bandwidth_gbps and bytes_per_cycle")
        if self.bandwidth_gbps is not None and not math.isfinite(self.bandwidth_gbps):
            raise ValueError("bandwidth_gbps must be finite (use bytes_per_cycle = inf)")
        if self.bytes_per_cycle is not None and MAX_BYTES_PER_CYCLE < self.bytes_per_cycle \
                < math.inf:
            raise ValueError(f"bytes_per_cycle must be at most {MAX_BYTES_PER_CYCLE:g} "
                             "(or inf for unlimited)")
        return self


class VectorConfig(BaseModel):
    """The vector unit for pooling, elementwise ops and activations."""

    model_config = _FROZEN
    lanes: Annotated[Int, Field(gt=0, le=1 << 16)]


class EnergyConfig(BaseModel):
    """Energy per action. ``preset`` supplies every figure (see `simaccel.energy.PRESETS`);
    the other keys override it. ``mac_pj`` is by input datatype; ``sram_access_pj`` lists
    (memory KiB, pJ per 64-bit access) points interpolated log-log, each memory's access
    energy read at its whole capacity; ``vector_pj_per_op`` has ``int`` and ``float``.
    Static power is leakage: ``pe_leakage_uw`` per PE (default: the preset's leakage per pJ
    of MAC energy × the MAC's energy) plus ``sram_leakage_nw_per_byte`` per byte of every
    on-chip memory. ``static_mw``, if given, is a fixed static power instead of leakage."""

    model_config = _FROZEN
    preset: Literal["horowitz_45nm", "eyeriss_relative"] = "horowitz_45nm"
    source: Annotated[Str, Field(max_length=1000)] | None = None
    mac_pj: dict[Literal["int8", "int16", "bf16", "fp16", "fp32"],
                 Annotated[Real, Field(ge=0, le=1e4)]] | None = None
    sram_access_pj: list[tuple[Kib, Annotated[Real, Field(gt=0, le=MAX_ACTION_PJ)]]] \
        | None = Field(default=None, min_length=1, max_length=1000)
    dram_pj_per_byte: Annotated[Real, Field(ge=0, le=MAX_ACTION_PJ)] | None = None
    vector_pj_per_op: dict[Literal["int", "float"], Annotated[Real, Field(ge=0, le=1e4)]] \
        | None = None
    static_mw: Annotated[Real, Field(ge=0, le=MAX_STATIC_MW)] | None = None
    pe_leakage_uw: Annotated[Real, Field(ge=0, le=1e6)] | None = None
    sram_leakage_nw_per_byte: Annotated[Real, Field(ge=0, le=1e6)] | None = None

    @field_validator("sram_access_pj")
    @classmethod
    def _distinct_sizes(cls, points: list | None) -> list | None:
        """Points may come in any order (they are sorted where read); two at one size
        would make the interpolation divide by zero."""
        if points is not None:
            sizes = [size for size, _ in points]
            repeated = sorted({size for size in sizes if sizes.count(size) > 1})
            if repeated:
                raise ValueError(f"buffer sizes must be distinct; {repeated[0]:g} KiB is "
                                 "given twice")
        return points


class AreaConfig(BaseModel):
    """Silicon area per component, mm². ``preset`` supplies every figure (see
    `simaccel.area.PRESETS`); the other keys override it. ``pe_mm2`` is per PE by input
    datatype, ``sram_mm2_per_kib`` per KiB of buffer, ``vector_lane_mm2`` per vector lane."""

    model_config = _FROZEN
    preset: Literal["tpu_v1_28nm"] = "tpu_v1_28nm"
    source: Annotated[Str, Field(max_length=1000)] | None = None
    pe_mm2: dict[Literal["int8", "int16", "bf16", "fp16", "fp32"],
                 Annotated[Real, Field(gt=0, le=1e3)]] | None = None
    sram_mm2_per_kib: Annotated[Real, Field(gt=0, le=1e3)] | None = None
    vector_lane_mm2: Annotated[Real, Field(gt=0, le=1e3)] | None = None


#: Energy of an N:M array's operand mux per performed MAC (pJ): selecting one of M 8-bit
#: activations is taken to cost what an 8-bit integer add does, 0.03 pJ at 45 nm (Horowitz,
#: ISSCC 2014). An assumption of order of magnitude: NVIDIA publishes no figure for its
#: sparse tensor cores' selection logic.
NM_MUX_PJ = 0.03


class SparsityConfig(BaseModel):
    """What the hardware does with sparse weights and activations (docs/formats.md,
    ``[sparsity]``; the model is `simaccel.sparse_hw`).

    ``support``: ``none`` (a dense array: no time saved), ``nm`` (the array skips the pruned
    weights of layers conforming to ``pattern``: K × n/m cycles, N:M metadata, a mux per
    MAC costing ``mux_pj``), ``unstructured`` (with ``gating``: zero weights cost no MAC
    energy; with ``skipping``: their MACs take no time either). ``activation_gating``: a
    zero activation costs no MAC energy (the zero share measured by the numerics run).
    ``weight_format``: how the weights not stored N:M sit in DRAM and SRAM (``auto``: the
    smallest per layer); ``layer_formats`` sets it for named layers (a layer set so is not
    stored N:M, so an N:M array runs it dense)."""

    model_config = _FROZEN
    support: Literal["none", "nm", "unstructured"] = "none"
    pattern: Literal["1:2", "1:4", "2:4", "1:8", "2:8", "4:8"] = "2:4"
    gating: Bool = False
    skipping: Bool = False
    activation_gating: Bool = False
    weight_format: Literal["dense", "bitmap", "csr", "csc", "auto"] = "dense"
    #: per layer (by name), a format set instead of ``weight_format`` (and of N:M)
    layer_formats: dict[Annotated[Str, Field(min_length=1, max_length=256)],
                        Literal["dense", "bitmap", "csr", "csc", "auto"]] = \
        Field(default_factory=dict, max_length=100_000)
    mux_pj: Annotated[Real, Field(ge=0, le=MAX_ACTION_PJ)] = NM_MUX_PJ

    @model_validator(mode="after")
    def _consistent(self) -> SparsityConfig:
        unstructured = self.support == "unstructured"
        for key in ("gating", "skipping"):
            if getattr(self, key) and not unstructured:
                raise ValueError(f"sparsity.{key}: only an unstructured array gates or skips "
                                 "(set support = \"unstructured\")")
        if unstructured and not (self.gating or self.skipping):
            raise ValueError("sparsity.support: an unstructured array must gate or skip "
                             "(set gating and/or skipping to true)")
        return self

    @property
    def nm(self) -> tuple[int, int]:
        """The N:M pattern as (n, m)."""
        n, m = self.pattern.split(":")
        return int(n), int(m)


class Hardware(BaseModel):
    """A whole accelerator configuration."""

    model_config = _FROZEN
    name: Annotated[Str, Field(min_length=1, max_length=128)]
    description: Annotated[Str, Field(max_length=10_000)] = ""
    clock_mhz: Annotated[Real, Field(ge=MIN_CLOCK_MHZ, le=MAX_CLOCK_MHZ)]
    array: ArrayConfig
    dtypes: DTypes = DTypes()
    memories: tuple[MemoryConfig, ...] | None = None  # before sram: its errors come first
    sram: SramConfig
    chip: ChipConfig = ChipConfig()
    system: SystemConfig = SystemConfig()
    dram: DramConfig
    vector: VectorConfig
    energy: EnergyConfig = EnergyConfig()
    area: AreaConfig = AreaConfig()
    sparsity: SparsityConfig = SparsityConfig()

    @model_validator(mode="before")
    @classmethod
    def _sram_from_memories(cls, data: Any) -> Any:
        """With ``[[memories]]``, ``[sram]`` may only say ``double_buffered``: each operand's
        tile buffer is its memory's streaming share (see `MemoryConfig`)."""
        if not isinstance(data, dict) or data.get("memories") is None:
            return data
        sram = data.get("sram", {})
        if not isinstance(sram, dict):
            return data
        try:
            memories = [MemoryConfig.model_validate(m) if not isinstance(m, MemoryConfig)
                        else m for m in data["memories"]]
        except (ValidationError, TypeError):
            return data  # the field's own validation names the bad entry and its key
        held = [op for m in memories for op in m.holds]
        for op in Operand:
            if held.count(op) != 1:
                raise ValueError(f"memories: operand {op.value!r} must be held by exactly one "
                                 f"memory (held by {held.count(op)})")
        names = [m.name for m in memories]
        if len(set(names)) != len(names):
            raise ValueError("memories: two memories share a name")
        sizes = {op.value + "_kib": m.stream_bytes / len(m.holds) / 1024
                 for m in memories for op in m.holds}
        extra = sorted(k for k in set(sram) - {"double_buffered"} if sram[k] != sizes.get(k))
        if extra:  # a dump of a validated config repeats the derived sizes: those are fine
            raise ValueError(f"sram.{extra[0]}: give buffer sizes in [sram] or describe "
                             "[[memories]], not both")
        return {**data, "memories": memories, "sram": {**sram, **sizes}}

    @property
    def memory_list(self) -> tuple[MemoryConfig, ...]:
        """The on-chip memories: as described, or one per operand from ``[sram]``
        (SCALE-Sim's split ifmap/filter/ofmap buffers, none resident)."""
        if self.memories is not None:
            return self.memories
        # built from the validated [sram] sizes: nothing to check again; and kept with the
        # [sram] they came from (a sweep point asks for them hundreds of times; a copy with
        # another [sram], `model_copy(update=...)`, builds its own)
        if self._split is None or self._split[0] is not self.sram:
            self._split = (self.sram, tuple(MemoryConfig.model_construct(
                name=op.value, kib=self.sram.size_bytes(op) / 1024, holds=(op,))
                for op in Operand))
        return self._split[1]

    def memory_of(self, operand: Operand) -> MemoryConfig:
        """The memory that holds ``operand``'s tiles."""
        return next(m for m in self.memory_list if operand in m.holds)

    @property
    def resident_memory(self) -> MemoryConfig | None:
        """The memory where activations may stay between kernels, if any."""
        return next((m for m in self.memory_list if m.resident), None)
    #: the file the user gave (set by the loaders) and its names for simaccel's fields
    _source: str | None = PrivateAttr(default=None)
    _labels: dict[str, str] = PrivateAttr(default_factory=dict)
    _split: tuple[SramConfig, tuple[MemoryConfig, ...]] | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        """Equal when every field is: the file a config was read from is not part of it."""
        if not isinstance(other, Hardware):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = BaseModel.__hash__

    def where(self, field: str) -> tuple[str, str]:
        """(file, field) for a message about ``field`` (``sram.ifmap_kib``): the file the
        config came from and the field as that file names it (a .cfg key; with
        ``[[memories]]``, the memory whose streaming share is that buffer), else the config's
        name."""
        if self.memories is not None and field.startswith("sram.") and field.endswith("_kib"):
            operand = Operand(field[len("sram."):-len("_kib")])
            index = next(i for i, m in enumerate(self.memories) if operand in m.holds)
            memory = self.memories[index]
            key = "stream_kib" if memory.stream_kib is not None else "kib"  # as written
            field = f"memories[{index}].{key}"
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
    def dram_capacity_bytes(self) -> int | None:
        """One chip's DRAM/HBM capacity in bytes, None when the config gives none."""
        if self.dram.capacity_gib is None:
            return None
        return int(self.dram.capacity_gib * (1 << 30))

    @property
    def dram_latency_cycles(self) -> int:
        """DRAM access latency in array clock cycles."""
        return math.ceil(self.dram.latency_ns * self.clock_mhz / 1000)


def _buffer_sizes_to_memories(data: dict) -> None:
    """On a config with ``[[memories]]``, an ``sram.X_kib`` set by `vary` is operand X's
    tile buffer: its memory's streaming share grows or shrinks to give X that size, and the
    memory with it (a resident memory keeps its space for resident tensors)."""
    sram = data.get("sram", {})
    memories = [dict(m) for m in data["memories"]]
    for memory in memories:
        sizes = {op: sram.get(f"{op}_kib") for op in memory["holds"]}
        current = (memory.get("stream_kib") or (memory["kib"] / 4 if memory.get("resident")
                                                 else memory["kib"])) / len(memory["holds"])
        changed = {op: size for op, size in sizes.items() if size is not None and size != current}
        if len(set(changed.values())) > 1:
            keys = " and ".join(f"sram.{op}_kib" for op in changed)
            raise ValueError(f"{keys}: memory {memory['name']!r} holds both and shares its "
                             "streaming space equally: give them one value")
        if not changed:
            continue
        wanted = next(iter(changed.values()))
        share = wanted * len(memory["holds"])
        if memory.get("resident"):  # the space for resident tensors stays as it was
            memory["kib"] = memory["kib"] - current * len(memory["holds"]) + share
            memory["stream_kib"] = share
        else:
            memory["kib"] = share
    data["memories"] = memories
    data["sram"] = {k: v for k, v in sram.items() if k == "double_buffered"}


def _plain(value: Any) -> Any:
    """A numpy scalar (a value read from a pandas frame) as the Python number it holds, so
    strict validation sees ``64`` and not ``numpy.int64(64)``; anything else unchanged."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def vary(hw: Hardware, changes: Mapping[str, Any]) -> Hardware:
    """``hw`` with dotted config fields changed and validated again: ``{"array.rows": 32}``;
    a key ``"array.rows+array.cols"`` sets both fields to one value. Setting one of the DRAM
    bandwidth fields drops the other. On a config with ``[[memories]]``, ``sram.X_kib`` sizes
    operand X's tile buffer within its memory. Raises pydantic's ``ValidationError`` for a
    value or a field the config does not accept, and `InputError` naming both keys for two
    keys that set one field (directly, through a ``+`` tie, or as ``dram.bandwidth_gbps``
    and ``dram.bytes_per_cycle``: `simaccel.hardware_keys`)."""
    found = clash(changes)
    if found is not None:
        raise InputError("simaccel.vary", repr(found.second), found.message(repr(found.first)))
    data = copy.deepcopy(hw.model_dump(exclude_none=True))
    for key, value in changes.items():
        for dotted in key.split("+"):
            *parents, leaf = dotted.strip().split(".")
            node = data
            for part in parents:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"{dotted}: {part} is not a table")
            for other in other_spellings(dotted.strip()):  # a sibling spelling of it
                node.pop(other.rsplit(".", 1)[1], None)
            node[leaf] = _plain(value)
    if data.get("memories"):
        _buffer_sizes_to_memories(data)
    label = ",".join(f"{k}={v}" for k, v in changes.items())
    data["name"] = f"{hw.name}[{label}]"[:128] if changes else hw.name
    return Hardware.model_validate(data)
