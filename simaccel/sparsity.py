"""Weight sparsity as a property of a GEMM kernel: measured once from the real weights.

`WeightSparsity` says how many of a kernel's weights are nonzero, how evenly they fall over
the output channels, which N:M patterns they conform to and how many bytes each storage
format takes (`simaccel.sparse_formats`). Lowering attaches it to every GEMM kernel whose
model has weights (`measure_kernel`); a kernel without weights is dense (`dense`). Array
timing, DMA bytes, energy and the numerics read it only through
`simaccel.sparse_hw.execution`, which decides what a given hardware config does with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache

import numpy as np

from simaccel.graph import Graph
from simaccel.kernels import GemmKernel, Kernel
from simaccel.sparse_formats import NM_PATTERNS, Stored, add, conforms, group_sizes, nm_size


@dataclass(frozen=True)
class WeightSparsity:
    """Nonzeros among a kernel's ``elements`` weights (all groups); ``densest_column`` the
    largest nonzero fraction of any output channel's K weights (exact; 1 for dense); ``nm`` the
    N:M patterns of `NM_PATTERNS` every run of the weights conforms to; ``storage`` each
    format's size (`Stored`); ``measured`` False for a kernel without weights (taken as
    dense)."""

    elements: int
    nonzeros: int
    densest_column: Fraction
    nm: tuple[tuple[int, int], ...]
    storage: tuple[Stored, ...]
    measured: bool = True

    @property
    def density(self) -> float:
        """Nonzero fraction of the weights, 0..1."""
        return self.nonzeros / self.elements if self.elements else 1.0

    def stored(self, fmt: str) -> Stored | None:
        """The size in format ``fmt`` (``"csc"``, ``"nm2:4"``), None if it cannot be stored
        so (an N:M pattern the weights do not conform to)."""
        return next((s for s in self.storage if s.format == fmt), None)


@lru_cache(maxsize=4096)
def dense(groups: int, k: int, n: int) -> WeightSparsity:
    """The sparsity of ``groups`` K × N matrices with no zero: what a kernel without
    weights (or a matmul of two activations) is taken to be."""
    sizes = group_sizes(k, n, k * n)
    return WeightSparsity(elements=groups * k * n, nonzeros=groups * k * n,
                          densest_column=Fraction(1), nm=(), storage=add([sizes] * groups),
                          measured=False)


def measure(b: np.ndarray) -> WeightSparsity:
    """Measure weights ``b [g, K, N]`` (the GEMM's view; `gemm_view` makes it)."""
    g, k, n = b.shape
    nonzero = b != 0
    per_column = nonzero.sum(axis=1)  # [g, N]
    patterns = tuple(p for p in NM_PATTERNS if bool(conforms(b, p).all()))
    sizes = add([group_sizes(k, n, int(per_column[i].sum())) for i in range(g)])
    nm = tuple(Stored(s.format, s.values * g, s.metadata * g)
               for s in (nm_size(k, n, p) for p in patterns))
    densest = Fraction(int(per_column.max(initial=0)), k) if k else Fraction(1)
    return WeightSparsity(elements=b.size, nonzeros=int(per_column.sum()),
                          densest_column=densest, nm=patterns, storage=sizes + nm)


def conformity(b: np.ndarray, pattern: tuple[int, int]) -> float:
    """Share (0..1) of the runs of M along K of ``b [g, K, N]`` that hold at most n
    nonzeros: 1.0 when the weights are n:m structured."""
    return float(conforms(b, pattern).mean()) if b.size else 1.0


def gemm_view(weights: np.ndarray, groups: int) -> np.ndarray:
    """A conv's HWIO kernel ``[kh, kw, C/g, F]`` or a dense ``[K, N]`` as the GEMM's
    ``[g, K, N/g]`` (K ordered kh, kw, channel: the im2col order)."""
    if weights.ndim == 2:
        return weights[None]
    kh, kw, cg, f = weights.shape
    return weights.reshape(kh * kw, cg, groups, f // groups).transpose(2, 0, 1, 3).reshape(
        groups, kh * kw * cg, f // groups)


def measure_kernels(graph: Graph, kernels: tuple[Kernel, ...]) -> tuple[Kernel, ...]:
    """Lowering pass: attach the measured `WeightSparsity` to every GEMM kernel whose weights
    the model's .npz gives (``"<layer>.kernel"`` of the kernel's size); a kernel without
    weights, or a matmul of activations, keeps ``sparsity=None`` (dense). A fused batchnorm
    scales columns, so it changes no zero."""
    stored = graph.model.weights
    if stored is None:
        return kernels
    out: list[Kernel] = []
    for kernel in kernels:
        weights = stored.get(f"{kernel.name}.kernel") if isinstance(kernel, GemmKernel) \
            and not kernel.filter_is_activation else None
        rank = 4 if isinstance(kernel, GemmKernel) and kernel.op == "conv2d" else 2
        if weights is not None and np.ndim(weights) == rank \
                and np.size(weights) == kernel.filter_elements:
            b = gemm_view(np.asarray(weights), kernel.groups)
            kernel = replace(kernel, sparsity=measure(b))
        out.append(kernel)
    return tuple(out)
