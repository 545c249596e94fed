"""Storage formats of a GEMM's weights in DRAM and SRAM, and their exact sizes.

A GEMM kernel's weights are ``groups`` matrices B of K × N (K the reduction, N the output
channels; docs/architecture.md, "Sparsity"). Each format stores some *values* (each of the
weight datatype's width) and some *metadata* (bytes, whatever the datatype):

=========  ==========================  =============================================
format     values                      metadata bytes (per group)
=========  ==========================  =============================================
dense      K·N                         0
bitmap     nnz                         ⌈K·N / 8⌉ (one bit per position)
csr        nnz                         (K + 1) pointers + nnz column indices (< N)
csc        nnz                         (N + 1) pointers + nnz row indices (< K)
nm  (N:M)  N·⌈K/M⌉·n (zeros padded)    ⌈N·⌈K/M⌉·n·⌈log₂ M⌉ / 8⌉ (an index per value)
=========  ==========================  =============================================

CSR and CSC are of B as the array reads it: CSC lists, per output channel, its nonzero K
positions (SCALE-Sim v3's and Sparseloop's "CSC"/"UOP-CP" compressed column). Indices and
pointers are unsigned integers of the smallest width of 1, 2, 4 or 8 bytes that holds the
largest value stored (an index < its dimension, a pointer ≤ nnz), as sparse libraries
store them (SciPy narrows index arrays the same way, to int32 or int64). N:M metadata is
⌈log₂ M⌉ bits per kept value, packed: 2 bits for 2:4, as NVIDIA's A100 stores it (NVIDIA
A100 Tensor Core GPU Architecture whitepaper, 2020, "Fine-grained structured sparsity":
"2-bit indices"). Only weights that conform to the pattern (at most n nonzeros in every
run of M along K, runs starting at K = 0) can be stored N:M.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The formats, in the order they are listed; ``nm`` takes its pattern as ``"nm2:4"``.
FORMATS = ("dense", "bitmap", "csr", "csc", "nm")
#: N:M patterns measured and storable (n, m): NVIDIA's 2:4 and its neighbours.
NM_PATTERNS: tuple[tuple[int, int], ...] = ((1, 2), (1, 4), (2, 4), (1, 8), (2, 8), (4, 8))


def uint_bytes(largest: int) -> int:
    """Bytes of the narrowest unsigned integer (1, 2, 4 or 8 bytes) holding ``largest``:
    255 → 1, 256 → 2, 65536 → 4."""
    for width in (1, 2, 4):
        if largest < 1 << (8 * width):
            return width
    return 8


def nm_name(n: int, m: int) -> str:
    """The format name of pattern n:m, ``"nm2:4"``."""
    return f"nm{n}:{m}"


@dataclass(frozen=True)
class Stored:
    """One format's size: ``values`` stored (weight-datatype wide each) and ``metadata``
    bytes (bitmaps, indices, pointers), over all groups."""

    format: str
    values: int
    metadata: int

    def bytes(self, value_bytes: int) -> int:
        """Bytes in DRAM (and in SRAM) with ``value_bytes`` per value."""
        return self.values * value_bytes + self.metadata


def group_sizes(k: int, n: int, nonzeros: int) -> tuple[Stored, ...]:
    """Sizes of one K × N matrix holding ``nonzeros`` nonzeros in dense, bitmap, CSR and CSC
    (N:M needs the positions: `nm_size`). E.g. K = 4, N = 2, 3 nonzeros: bitmap 3 values +
    1 byte; CSR 3 values + 5 pointers + 3 indices = 8 bytes; CSC 3 + 3 + 3 = 6 bytes."""
    ptr = uint_bytes(nonzeros)
    return (
        Stored("dense", k * n, 0),
        Stored("bitmap", nonzeros, math.ceil(k * n / 8)),
        Stored("csr", nonzeros, (k + 1) * ptr + nonzeros * uint_bytes(max(n - 1, 0))),
        Stored("csc", nonzeros, (n + 1) * ptr + nonzeros * uint_bytes(max(k - 1, 0))),
    )


def nm_size(k: int, n: int, pattern: tuple[int, int]) -> Stored:
    """Size of one K × N matrix stored n:m: every run of M along K keeps n values (zeros
    padded) with ⌈log₂ M⌉ index bits each; a final short run counts as a whole one."""
    keep, run = pattern
    values = n * math.ceil(k / run) * keep
    return Stored(nm_name(*pattern), values, math.ceil(values * math.ceil(math.log2(run)) / 8))


def add(sizes: list[tuple[Stored, ...]]) -> tuple[Stored, ...]:
    """Per-format sums of several groups' sizes (each listing the same formats in order)."""
    return tuple(Stored(parts[0].format, sum(p.values for p in parts),
                        sum(p.metadata for p in parts)) for parts in zip(*sizes, strict=True))


def conforms(b: np.ndarray, pattern: tuple[int, int]) -> np.ndarray:
    """For ``b [g, K, N]``: per run of M along K and column, whether it holds at most n
    nonzeros; ``[g, ⌈K/M⌉, N]`` booleans (K padded with zeros to a whole run)."""
    keep, run = pattern
    g, k, n = b.shape
    padded = np.zeros((g, math.ceil(k / run) * run, n), dtype=bool)
    padded[:, :k] = b != 0
    return padded.reshape(g, -1, run, n).sum(axis=2) <= keep
