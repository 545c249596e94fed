"""The N:M array's arithmetic: a matmul tile computed the way a sparse array computes it.

An N:M array (NVIDIA's sparse tensor cores, A100 whitepaper 2020) never sees the pruned
weights: each run of M weights along K arrives compressed to its n kept values and their
indices, and a mux picks the n matching activations of the run. The reduction therefore
runs over the kept pairs only, in a different order from the dense K loop. `nm_multiply`
does exactly that: it compresses the weight block (the n nonzero positions of every run,
first ones first; a run with fewer nonzeros pads with zeros, as the format does), gathers
the activations by those indices and sums the products run by run. Weights that do not
conform lose their extra nonzeros in the compression, and the kernel's check against the
dense reference fails: the check covers the compression and the reordering.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

#: Elements a gathered activation block may hold per column chunk (float64: 32 MiB).
GATHER_ELEMENTS = 1 << 22

Multiply = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def dense_multiply(lhs: np.ndarray, rhs: np.ndarray, k0: int) -> np.ndarray:
    """``lhs [g, r, kk] @ rhs [g, kk, c]`` (a dense array; ``k0`` unused)."""
    return np.matmul(lhs, rhs)


def compress(rhs: np.ndarray, k0: int, pattern: tuple[int, int]
             ) -> tuple[np.ndarray, np.ndarray, int]:
    """Compress ``rhs [g, kk, c]`` (rows ``k0`` .. ``k0 + kk`` of the weights) n:m: kept
    values ``[g, runs, n, c]``, their positions within each run ``[g, runs, n, c]`` and the
    zero rows padded in front (runs start at multiples of M of the whole K)."""
    keep, run = pattern
    g, kk, c = rhs.shape
    front = k0 % run
    runs = math.ceil((front + kk) / run)
    padded = np.zeros((g, runs * run, c))
    padded[:, front:front + kk] = rhs
    blocks = padded.reshape(g, runs, run, c)
    index = np.argsort(blocks == 0, axis=2, kind="stable")[:, :, :keep, :]
    return np.take_along_axis(blocks, index, axis=2), index, front


def nm_multiply(pattern: tuple[int, int]) -> Multiply:
    """A `Multiply` that computes ``lhs [g, r, kk] @ rhs [g, kk, c]`` on an n:m array: over
    the compressed weights (`compress`) and the activations their indices select, run by
    run. ``k0`` is the block's first K row."""
    keep, run = pattern

    def multiply(lhs: np.ndarray, rhs: np.ndarray, k0: int) -> np.ndarray:
        values, index, front = compress(rhs, k0, pattern)
        g, r, kk = lhs.shape
        runs, c = values.shape[1], values.shape[3]
        acts = np.zeros((g, r, runs * run))
        acts[:, :, front:front + kk] = lhs
        acts = acts.reshape(g, r, runs, run, 1)
        out = np.empty((g, r, c))
        step = max(1, GATHER_ELEMENTS // max(1, g * r * runs * keep))
        for lo in range(0, c, step):
            hi = min(c, lo + step)
            picked = np.take_along_axis(acts, index[:, None, :, :, lo:hi], axis=3)
            out[:, :, lo:hi] = np.einsum("grtkc,gtkc->grc", picked, values[..., lo:hi])
        return out

    return multiply
