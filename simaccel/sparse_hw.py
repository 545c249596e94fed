"""What one hardware config does with one GEMM kernel's sparsity: the one place array timing,
DMA bytes, energy and the numerics read it from (docs/architecture.md, "Sparsity").

`execution(kernel, hw)` combines the kernel's measured `WeightSparsity` with the config's
``[sparsity]`` into a `SparseExecution`:

* **Storage.** A layer whose weights conform to an N:M array's pattern is stored N:M (the
  array reads that format); any other layer in ``weight_format`` (``auto``: the smallest of
  dense, bitmap, CSR, CSC and every N:M pattern its weights conform to), or in the format
  ``layer_formats`` sets for it by name (which also takes it off the N:M path). Every DMA and SRAM
  byte of the weights is of that format (`simaccel.sparse_formats`).
* **Time.** The array's K (what it streams or folds over its rows) shrinks by ``k_ratio``:
  n/m on an N:M array for a conforming layer (NVIDIA A100 whitepaper, 2020: 2:4 doubles the
  math rate); ``densest_column`` for an unstructured array that skips, because a systolic
  array advances in lockstep, so a fold waits for its densest output channel (an upper
  bound: Sparseloop, Wu et al., MICRO 2022, models skipping as removing the zero
  operands' cycles, ideally the density itself). Output stationary and weight stationary
  compress K; input stationary holds the activations of all K in place, so nothing is
  skipped (``k_ratio`` 1).
* **Energy.** MACs that run: × n/m (N:M) or × density (unstructured: gated zero-weight
  MACs cost nothing, skipped ones do not run: Sparseloop's gating and skipping); an N:M
  array pays ``mux_pj`` per MAC that runs; with ``activation_gating`` the share of zero
  activations the numerics measured costs nothing either (Eyeriss, Chen et al., ISCA 2016,
  gates a PE on a zero input; weight and activation zeros are taken as independent).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from simaccel.domain import Dataflow
from simaccel.errors import InputError
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel
from simaccel.sparse_formats import nm_name
from simaccel.sparsity import WeightSparsity, dense

#: Dataflows whose K dimension a sparse array can compress (see the module docstring).
COMPRESSES_K = (Dataflow.OS, Dataflow.WS)


@dataclass(frozen=True)
class SparseExecution:
    """How ``hw`` runs one GEMM kernel's weights.

    ``format``: their storage format (``"csc"``, ``"nm2:4"``, ...); ``weight_bytes`` their
    bytes in it, all groups, bias excluded, and ``dense_weight_bytes`` dense; ``k_ratio``
    the array's effective K over K (1: no time saved); ``skips``: ``"none"``, ``"nm"`` or
    ``"unstructured"``; ``mac_share``: share of the dense MACs that spend MAC energy
    (before activation gating); ``mux``: every MAC that runs pays the N:M mux;
    ``density``: the weights' nonzero share."""

    format: str
    weight_bytes: int
    dense_weight_bytes: int
    k_ratio: Fraction
    skips: str
    mac_share: float
    mux: bool
    density: float

    def array_k(self, k: int) -> int:
        """The K the array spends time on for ``k`` weights' rows: ⌈k × k_ratio⌉ (at least
        1 for k ≥ 1)."""
        if not self.saves_time:
            return k
        ratio = self.k_ratio
        return max(min(k, 1), -(-k * ratio.numerator // ratio.denominator))

    @property
    def saves_time(self) -> bool:
        """Whether the array folds fewer K rows than the weights have (k_ratio < 1)."""
        return self.k_ratio.numerator < self.k_ratio.denominator


def array_macs(kernel: GemmKernel, hw: Hardware) -> int:
    """The MACs ``kernel`` occupies ``hw``'s PEs with: its MACs, or on an array that skips
    zero weights (N:M, or unstructured with ``skipping``) the MACs of the K it folds,
    groups × m × ⌈k × k_ratio⌉ × n (`SparseExecution.array_k`). What utilization and
    mapping efficiency count, so that neither can pass 1 on a sparse array."""
    sparse = execution(kernel, hw)
    if not sparse.saves_time:
        return kernel.macs
    return kernel.groups * kernel.m * sparse.array_k(kernel.k) * kernel.n


def weight_sparsity(kernel: GemmKernel) -> WeightSparsity:
    """The kernel's measured sparsity, or dense when it has none measured."""
    return kernel.sparsity if kernel.sparsity is not None else dense(
        kernel.groups, kernel.k, kernel.n)


def execution(kernel: GemmKernel, hw: Hardware) -> SparseExecution:
    """What ``hw`` does with ``kernel``'s weights (see the module docstring)."""
    cfg = hw.sparsity
    if kernel.filter_is_activation:  # a matmul's second operand: activations, kept dense
        size = kernel.filter_elements * hw.dtypes.input.bytes
        return SparseExecution("dense", size, size, Fraction(1), "none", 1.0, False, 1.0)
    sparsity = weight_sparsity(kernel)
    value_bytes = hw.dtypes.weight.bytes
    dense_bytes = sparsity.elements * value_bytes
    compresses = hw.array.dataflow in COMPRESSES_K
    pattern = cfg.nm
    set_format = cfg.layer_formats.get(kernel.name)
    if cfg.support == "nm" and pattern in sparsity.nm and set_format is None:
        stored = sparsity.stored(nm_name(*pattern))
        assert stored is not None
        ratio = Fraction(*pattern) if compresses else Fraction(1)
        return SparseExecution(stored.format, stored.bytes(value_bytes), dense_bytes, ratio,
                               "nm" if compresses else "none", float(ratio), compresses,
                               sparsity.density)
    stored = _chosen(sparsity, set_format or cfg.weight_format, value_bytes)
    skips = cfg.support == "unstructured" and cfg.skipping and compresses
    share = sparsity.density if cfg.support == "unstructured" and (
        cfg.gating or skips) else 1.0
    return SparseExecution(stored[0], stored[1], dense_bytes,
                           max(sparsity.densest_column, Fraction(1, max(kernel.k, 1)))
                           if skips else Fraction(1),
                           "unstructured" if skips else "none", share, False, sparsity.density)


def _chosen(sparsity: WeightSparsity, weight_format: str, value_bytes: int) -> tuple[str, int]:
    """(format, bytes) of ``weight_format``, or of the smallest format for ``auto`` (ties go
    to the first listed: dense, bitmap, csr, csc, then N:M)."""
    if weight_format == "auto":
        best = min(sparsity.storage, key=lambda s: s.bytes(value_bytes))
        return best.format, best.bytes(value_bytes)
    stored = sparsity.stored(weight_format)
    assert stored is not None, weight_format  # dense, bitmap, csr and csc are always listed
    return stored.format, stored.bytes(value_bytes)


def mac_energy_pj(kernel: GemmKernel, hw: Hardware, mac_pj: float,
                  zero_activations: float | None) -> float:
    """MAC energy of ``kernel`` on ``hw`` (pJ): the MACs that run (`SparseExecution`) ×
    ``mac_pj``, less the share ``zero_activations`` (0..1, measured by the numerics; None:
    not measured, nothing gated) when the config gates zero activations, plus the N:M mux
    on every MAC that runs."""
    run = execution(kernel, hw)
    macs = kernel.macs * run.mac_share
    gated = zero_activations if hw.sparsity.activation_gating and zero_activations else 0.0
    return macs * (1.0 - gated) * mac_pj + (macs * hw.sparsity.mux_pj if run.mux else 0.0)


def check_layer_formats(kernels: tuple[Kernel, ...], hw: Hardware) -> None:
    """Every layer ``[sparsity] layer_formats`` names is a conv or dense kernel of the model
    (its weights are what the format stores); raises `InputError` naming the entry."""
    weighted = {k.name for k in kernels
                if isinstance(k, GemmKernel) and not k.filter_is_activation}
    for name in hw.sparsity.layer_formats:
        if name not in weighted:
            raise InputError(*hw.where(f"sparsity.layer_formats.{name}"),
                             "the model has no conv or dense layer of that name"
                             + (f" (its GEMM layers: {', '.join(sorted(weighted)[:8])}"
                                f"{', ...' if len(weighted) > 8 else ''})" if weighted else ""))
