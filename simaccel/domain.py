"""Domain enums shared by every stage: dataflows, operands and datatypes."""

from __future__ import annotations

from enum import StrEnum


class Dataflow(StrEnum):
    """Which GEMM operand stays in the PEs while the others stream through the array."""

    OS = "os"  #: output stationary: M on rows, N on columns, K streamed
    WS = "ws"  #: weight stationary: K on rows, N on columns, M streamed
    IS = "is"  #: input stationary: K on rows, M on columns, N streamed


class Operand(StrEnum):
    """The three data streams of a GEMM, each with its own SRAM buffer."""

    IFMAP = "ifmap"
    FILTER = "filter"
    OFMAP = "ofmap"


class DType(StrEnum):
    """Datatypes of inputs, weights and accumulators."""

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP32 = "fp32"

    @property
    def bytes(self) -> int:
        """Size of one element in bytes."""
        return _DTYPE_BYTES[self]

    @property
    def is_integer(self) -> bool:
        return self in (DType.INT8, DType.INT16, DType.INT32)


_DTYPE_BYTES = {
    DType.INT8: 1,
    DType.INT16: 2,
    DType.INT32: 4,
    DType.BF16: 2,
    DType.FP16: 2,
    DType.FP32: 4,
}
