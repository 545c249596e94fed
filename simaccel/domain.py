"""Domain enums shared by every stage: dataflows, operands and datatypes; and the bounds
on run sizes that the CLI, the Python API and sweeps all accept."""

from __future__ import annotations

from enum import StrEnum

#: Largest prompt or generation accepted, tokens (2**20: far past any model's context).
MAX_TOKENS = 1 << 20
#: Largest batch accepted, sequences or inferences (2**16).
MAX_BATCH = 1 << 16
#: Largest collective buffer accepted, bytes a node (2**50: 1 PiB).
MAX_COLLECTIVE_BYTES = 1 << 50
#: Largest training batch, epoch count and sample count accepted (2**20).
MAX_COUNT = 1 << 20
#: Largest seed accepted: an int64, which numpy's generators take as it is.
MAX_SEED = 2**63 - 1
#: How any model may be spread over a system's chips (``simaccel partition --parallel``,
#: the ``parallel`` sweep field, `simaccel.partition_model`).
PARALLEL = ("data", "tensor", "pipeline", "auto")


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
    #: 48-bit accumulators, as int16 datapaths use (Xilinx's DSP48 slices accumulate 16 × 18
    #: products in 48 bits): an int16 product needs 30 bits, so int32 holds only a few
    INT48 = "int48"
    BF16 = "bf16"
    FP16 = "fp16"
    FP32 = "fp32"

    @property
    def bytes(self) -> int:
        """Size of one element in bytes."""
        return _DTYPE_BYTES[self]

    @property
    def is_integer(self) -> bool:
        return self in (DType.INT8, DType.INT16, DType.INT32, DType.INT48)


_DTYPE_BYTES = {
    DType.INT8: 1,
    DType.INT16: 2,
    DType.INT32: 4,
    DType.INT48: 6,
    DType.BF16: 2,
    DType.FP16: 2,
    DType.FP32: 4,
}
