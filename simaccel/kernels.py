"""What the hardware executes: GEMM kernels for the array, vector kernels for the vector unit.

A kernel is what one report row describes. It may cover several model layers: a conv with
the batchnorm folded into it and the activation fused after it is one GEMM kernel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simaccel.sparsity import WeightSparsity

#: Vector-unit operations per output element, for each op that runs on the vector unit.
#: Pointwise costs follow a LUT/piecewise implementation: sigmoid and tanh read a table and
#: interpolate (4 ops), GELU's tanh form needs about twice that; softmax is max, subtract, exp,
#: sum and divide (5); layernorm is mean, subtract, square, sum, scale and shift (8).
VECTOR_OPS_PER_ELEMENT: dict[str, int] = {
    "relu": 1,
    "relu6": 2,
    "sigmoid": 4,
    "tanh": 4,
    "gelu": 8,
    "gelu_tanh": 8,
    "softmax": 5,
    "layernorm": 8,
    "batchnorm": 2,
    "transpose": 1,
    "opaque": 1,
    "concat": 0,
    "flatten": 0,
    "reshape": 0,
}


@dataclass(frozen=True)
class GemmKernel:
    """``groups`` independent GEMMs of (m × k) · (k × n), run one after another on the array.

    Element counts are of the real tensors (not the im2col expansion): ``ifmap_elements`` is
    what the layer reads, ``filter_elements`` its weights (or second operand, for matmul),
    ``ofmap_elements`` what it writes. ``fused`` names the layers merged into this kernel and
    ``fused_vector_ops`` counts their vector operations, done at line rate as outputs drain;
    ``output`` is the tensor the kernel writes (the last fused layer's name). ``sparsity``
    is its weights' measured sparsity (`simaccel.sparsity`), None when it has no weights
    to measure (dense).
    ``filter_activation`` gives the second operand's role explicitly: True when B is an
    activation computed at run time (``inputs[1]``: a matmul's second input, the output
    gradient of a weight-gradient GEMM), False when it is weights (prefetched from DRAM).
    """

    name: str
    op: str
    m: int
    k: int
    n: int
    groups: int
    ifmap_elements: int
    filter_elements: int
    ofmap_elements: int
    bias_elements: int = 0
    fused: tuple[str, ...] = ()
    fused_vector_ops: int = 0
    output: str = ""
    inputs: tuple[str, ...] = ()
    sparsity: WeightSparsity | None = None
    filter_activation: bool = False
    #: tensors the kernel waits for without reading them: a SCALE-Sim topology's rows run
    #: one after another (`lowering.chain`)
    after: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.output:
            object.__setattr__(self, "output", self.name)

    @property
    def macs(self) -> int:
        """Useful multiply-accumulates."""
        return self.m * self.k * self.n * self.groups

    @property
    def filter_is_activation(self) -> bool:
        """True when the second operand is computed at run time (``filter_activation``: a
        matmul's second input, a weight gradient's output gradient), not a weight."""
        return self.filter_activation

    @property
    def kind(self) -> str:
        return "gemm"


@dataclass(frozen=True)
class VectorKernel:
    """An op on the vector unit: ``elements`` outputs at ``ops_per_element`` each."""

    name: str
    op: str
    elements: int
    ops_per_element: int
    input_elements: int
    fused: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    output: str = ""
    after: tuple[str, ...] = ()  #: as `GemmKernel.after`

    def __post_init__(self) -> None:
        if not self.output:
            object.__setattr__(self, "output", self.name)

    @property
    def macs(self) -> int:
        return 0

    @property
    def kind(self) -> str:
        return "vector"

    @property
    def vector_ops(self) -> int:
        """Vector-unit operations (one element through one ALU stage)."""
        return self.elements * self.ops_per_element

    def cycles(self, lanes: int) -> int:
        """Cycles on a vector unit of ``lanes`` operations per cycle."""
        return math.ceil(self.vector_ops / lanes)


Kernel = GemmKernel | VectorKernel


def producers(kernels: Sequence[Kernel]) -> list[list[int]]:
    """For each kernel (in order), the earlier kernels whose outputs it reads."""
    writer: dict[str, int] = {}
    found = []
    for i, kernel in enumerate(kernels):
        found.append(sorted({writer[t] for t in (*kernel.inputs, *kernel.after)
                             if t in writer}))
        writer[kernel.output] = i
    return found
