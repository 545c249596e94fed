"""Tensor parallelism for any model (CNN, encoder): each kernel's share on one chip of a
system, timed by the engine on the sliced kernel (docs/architecture.md, "Partitioning
any model").

A GEMM (m × k) · (k × n) is split over ``ways`` chips along

* **N** (`Split.N`, column parallel): each chip computes ⌈n / ways⌉ output columns —
  output channels of a conv, units of a dense layer — from the whole input and its slice
  of the weights; the outputs are then *channel-sharded* (an all-gather makes them whole).
  A grouped GEMM (a depthwise or grouped conv, a batched matmul) splits its groups
  instead: each chip ⌈groups / ways⌉ groups, reading only their input channels;
* **K** (`Split.K`, row parallel): each chip reduces over ⌈k / ways⌉ rows of the
  reduction — a conv's input channels (times the window), a dense layer's inputs — so it
  reads only its slice of a channel-sharded input and writes a whole-size *partial sum*
  that a reduce-scatter or all-reduce completes. The fused activation runs on a chip's
  1/ways of the reduced output, so its vector operations are divided too.

A vector kernel whose every output channel depends only on the same input channel
(`CHANNEL_WISE_OPS`: activations, pooling, add, batchnorm, concat and reshapes) is split by
channel — ⌈elements / ways⌉ a chip; the others (softmax and layernorm normalise across the
channels; a transpose moves the channel axis; ONNX ops of unknown axes) run whole, either
replicated on every chip or batch-split (`simaccel.layer_plan`).

`sliced_runs` simulates the model's kernels sliced each way as one chain on one chip
(the stages of `simaccel.pipeline.run`: tiling, Program, engine, energy), so every share is
timed by the engine, never by dividing the one-chip cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction

from simaccel.kernels import GemmKernel, Kernel, VectorKernel
from simaccel.report import Report

#: Vector ops whose output channel c reads only input channel c (so they split by channel
#: with no communication): pointwise activations and batchnorm (per element / per channel),
#: pooling (per channel), add/mul (elementwise), concat (channels side by side), and the
#: reshapes (a permutation of where channels sit, which the next GEMM's weight rows follow).
CHANNEL_WISE_OPS = frozenset({
    "relu", "relu6", "sigmoid", "tanh", "gelu", "gelu_tanh", "batchnorm", "maxpool2d",
    "avgpool2d", "global_avgpool", "add", "mul", "concat", "flatten", "reshape"})


class Split(StrEnum):
    """Which GEMM dimension is split over the chips."""

    N = "n"
    K = "k"


def _share(count: int, part: int, whole: int) -> int:
    """``count`` scaled by part / whole, rounded up (elements of a slice)."""
    return math.ceil(count * part / whole) if whole else count


def splits(kernel: Kernel) -> tuple[Split, ...]:
    """The splits ``kernel`` allows: N and K for a GEMM with weights and one group; N (its
    groups) for a grouped GEMM; N (channels) for a channel-wise vector op; none for a
    GEMM of two activations (both operands would need their own layouts) and other vector
    ops."""
    if isinstance(kernel, GemmKernel):
        if kernel.filter_is_activation:
            return ()
        return (Split.N, Split.K) if kernel.groups == 1 else (Split.N,)
    return (Split.N,) if kernel.op in CHANNEL_WISE_OPS else ()


def slice_kernel(kernel: Kernel, split: Split, ways: int) -> Kernel:
    """One chip's share of ``kernel`` split ``ways`` ways along ``split`` (see the module
    docstring); element counts scale with the share, rounded up. Raises ValueError for a
    split the kernel does not allow (`splits`)."""
    if split not in splits(kernel):
        raise ValueError(f"{kernel.name}: {kernel.op} does not split along {split.value}")
    if ways == 1:
        return kernel
    if isinstance(kernel, VectorKernel):
        return replace(kernel, elements=math.ceil(kernel.elements / ways),
                       input_elements=math.ceil(kernel.input_elements / ways))
    if split is Split.K:
        k = math.ceil(kernel.k / ways)
        return replace(kernel, k=k, ifmap_elements=_share(kernel.ifmap_elements, k, kernel.k),
                       filter_elements=_share(kernel.filter_elements, k, kernel.k),
                       fused_vector_ops=math.ceil(kernel.fused_vector_ops / ways),
                       sparsity=_sliced_sparsity(kernel, k, kernel.k))
    if kernel.groups > 1:
        g = math.ceil(kernel.groups / ways)
        return replace(kernel, groups=g,
                       ifmap_elements=_share(kernel.ifmap_elements, g, kernel.groups),
                       filter_elements=_share(kernel.filter_elements, g, kernel.groups),
                       ofmap_elements=_share(kernel.ofmap_elements, g, kernel.groups),
                       bias_elements=_share(kernel.bias_elements, g, kernel.groups),
                       fused_vector_ops=_share(kernel.fused_vector_ops, g, kernel.groups),
                       sparsity=_sliced_sparsity(kernel, g, kernel.groups))
    n = math.ceil(kernel.n / ways)
    return replace(kernel, n=n, filter_elements=_share(kernel.filter_elements, n, kernel.n),
                   ofmap_elements=_share(kernel.ofmap_elements, n, kernel.n),
                   bias_elements=_share(kernel.bias_elements, n, kernel.n),
                   fused_vector_ops=_share(kernel.fused_vector_ops, n, kernel.n),
                   sparsity=_sliced_sparsity(kernel, n, kernel.n))


def _sliced_sparsity(kernel: GemmKernel, part: int, whole: int):
    """The measured weight sparsity of ``part`` / ``whole`` of ``kernel``'s weights: every
    count and stored size scaled by the share, rounded up (the slice's own nonzeros are not
    known, only the kernel's; density, densest column and N:M conformity are kept). Without
    it the slice stored and moved the whole kernel's weights (found by a tester: a tensor
    split of a model with weights cost up to 10% more energy than of the same model
    without)."""
    sparsity = kernel.sparsity
    if sparsity is None:
        return None
    share = Fraction(part, whole)
    return replace(sparsity, elements=math.ceil(sparsity.elements * share),
                   nonzeros=math.ceil(sparsity.nonzeros * share),
                   storage=tuple(replace(s, values=math.ceil(s.values * share),
                                         metadata=math.ceil(s.metadata * share))
                                 for s in sparsity.storage))


def sliced(kernels: tuple[Kernel, ...], split: Split, ways: int) -> tuple[Kernel, ...]:
    """Every kernel that allows ``split`` sliced ``ways`` ways; the others whole."""
    return tuple(slice_kernel(k, split, ways) if split in splits(k) else k for k in kernels)


@dataclass(frozen=True)
class Shares:
    """Per kernel (execution order), one chip's cost (cycles, `run_costs`: they add up to
    the run) and dynamic energy (pJ, without static energy, which `simaccel.partition`
    charges for the system's whole time) for one inference: ``whole`` unsplit, ``n`` split
    along N, ``k`` split along K (a kernel that does not allow a split has its whole figures
    there)."""

    whole_cycles: tuple[int, ...]
    whole_pj: tuple[float, ...]
    n_cycles: tuple[int, ...]
    n_pj: tuple[float, ...]
    k_cycles: tuple[int, ...]
    k_pj: tuple[float, ...]


def run_costs(spans: list[tuple[int, int]]) -> list[int]:
    """Each kernel's cost (cycles) in a run of (start, end) ``spans`` in execution order:
    how far it moves the run's end, ``max(0, end − the latest earlier end)``. The costs add
    up to the run's cycles (the last end; the run starts at 0), so a kernel that ran on
    another core alongside an earlier one costs only its part past it, and any contiguous
    run of kernels costs what it adds to the run: run_costs([(0, 10), (0, 6), (6, 14)])
    = [10, 0, 4]. (Adding windows instead counts overlapped time twice: ResNet-18's 224,621
    cycles against the 218,000-cycle run on a two-core TPU-v4-like chip.)"""
    costs, frontier = [], 0
    for _, end in spans:
        costs.append(max(0, end - frontier))
        frontier = max(frontier, end)
    return costs


def _figures(results, energy) -> tuple[list[int], list[float]]:
    """(`run_costs`, dynamic energies in pJ) of a run's `Results` and `EnergyReport`."""
    return (run_costs([(r.start_cycle, r.end_cycle) for r in results.layers]),
            [e.total - e.static for e in energy.layers])


def _reads_slice(kernel: Kernel, split: Split) -> bool:
    """Whether ``kernel``, sliced along ``split``, reads only its channels of its inputs
    (a K split, a grouped GEMM's or a vector kernel's channel split; not an N split of a
    GEMM of one group, which reads its whole input)."""
    if split not in splits(kernel):
        return False
    return split is Split.K or not (isinstance(kernel, GemmKernel) and kernel.groups == 1)


def _input_elements(report: Report, kernels: tuple[Kernel, ...], split: Split, ways: int
                    ) -> dict[str, int]:
    """Elements of each model input one chip holds: its 1/ways channel slice when every
    kernel reading it reads only a slice, else the whole input."""
    out = {}
    for spec in report.graph.model.inputs:
        readers = [k for k in kernels if spec.name in k.inputs]
        elements = math.prod(spec.shape)
        sliced_only = readers and all(_reads_slice(k, split) for k in readers)
        out[spec.name] = math.ceil(elements / ways) if sliced_only else elements
    return out


def _run_chain(report: Report, kernels: tuple[Kernel, ...], inputs: dict[str, int]
               ) -> tuple[list[int], list[float]]:
    """Costs (cycles, `run_costs`) and dynamic energies (pJ) of ``kernels`` simulated as one
    chain on one chip of ``report``'s hardware (the stages of `simaccel.pipeline.run`, the
    model's inputs ``inputs`` elements, no numerics, no trace)."""
    from simaccel.energy import estimate
    from simaccel.numerics.outcome import Check
    from simaccel.pipeline import time_mappings
    from simaccel.results import collect
    from simaccel.schedule import build_schedule

    hw = report.hardware
    schedule = build_schedule(kernels, hw)
    program, traffic, timed = time_mappings(schedule, inputs, report.graph.model.outputs,
                                            trace=False)
    checks = tuple(Check(status="skipped", dtype=hw.dtypes.input.value) for _ in kernels)
    results = collect(schedule, program, traffic, timed, checks)
    return _figures(results, estimate(results, hw))


def sliced_runs(report: Report, ways: int) -> Shares:
    """`Shares` of ``report``'s kernels on one chip of its hardware when split ``ways``
    ways: the unsplit figures from the report, the N and K shares from two more
    simulations of the sliced chain (one chip's slice of each model input it reads
    sliced)."""
    kernels = tuple(r.work.kernel for r in report.results.layers)
    whole = _figures(report.results, report.energy)
    figures = {}
    for split in Split:
        chain = sliced(kernels, split, ways)
        figures[split] = whole if chain == kernels else _run_chain(
            report, chain, _input_elements(report, kernels, split, ways))
    return Shares(tuple(whole[0]), tuple(whole[1]), tuple(figures[Split.N][0]),
                  tuple(figures[Split.N][1]), tuple(figures[Split.K][0]),
                  tuple(figures[Split.K][1]))
