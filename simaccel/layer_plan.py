"""A parallel layout per layer: for each kernel of a model on a system of ``chips`` chips
the fastest (or least-energy) of data parallelism, tensor parallelism along N or K, or a
channel split / replication of a vector kernel, with the cost of changing an activation's
layout between layers (a re-distribution collective) counted (docs/architecture.md,
"Partitioning any model").

An activation lives in one `Layout` across the chips: whole on every chip (``replicated``),
its inferences split (``batch``), its channels split (``channel``), or a full-size partial
sum on every chip (``partial``, from a K split, which no kernel reads as it is). Each
`Strategy` reads its inputs in one layout and writes its output in another:

==========  ====================  ==========  =========  ================================
strategy    kernels               reads       writes     one chip's time for B inferences
==========  ====================  ==========  =========  ================================
data        all                   batch       batch      ⌈B / chips⌉ × whole cost
tensor_n    GEMM with weights     replicated  channel    B × N-share cost
tensor_k    GEMM, one group       channel     partial    B × K-share cost
channel     grouped GEMM, vector  channel     channel    B × share cost
replicated  vector, act. matmul   replicated  replicated B × whole cost
==========  ====================  ==========  =========  ================================

(costs, the cycles a kernel adds to its run, from `simaccel.tensor_parallel.sliced_runs`.)
Changing layout (`CONVERSIONS`):
batch or channel → replicated an all-gather; partial → replicated an all-reduce; partial →
channel or batch a reduce-scatter; batch ↔ channel an all-to-all (with fewer inferences
than chips, to or from batch is a gather or a scatter, timed as an all-gather, or from a
partial sum an all-reduce); replicated → anything is free
(each chip keeps its part). Each is timed by the link engine on the system's topology, the
faster of the ring and the tree algorithm; a partial sum moves in the accumulator type.
The model's inputs start replicated; its outputs must end whole (replicated or batch).

The search is a dynamic programme over the kernels in execution order whose state is the
strategy of the latest kernel; an input from an earlier kernel (a skip connection) is
converted from the layout its producer has on the path that reaches the state, so the
value the programme reaches is the plan's cost exactly (`evaluate`), and on a chain the
plan is optimal. Kernel costs add up to their run (`simaccel.tensor_parallel.run_costs`:
a kernel that ran alongside an earlier one on another core costs only its overhang), so
the all-data plan is the one-chip run exactly. No strategy is a pipeline stage: for any run
of kernels of costs w on p chips,
data parallelism's ⌈B/p⌉·Σw is at most a pipeline's Σw + (B − 1)·(slowest stage), since a
stage holds at least Σw/p and ⌈B/p⌉ − 1 ≤ (B − 1)/p, and data parallelism sends nothing
between stages (memory per chip, where pipelining pays, is not checked for these models);
the whole-model pipeline stays a candidate of ``auto`` (`simaccel.partition`). Energy:
each chip's share's dynamic energy (pJ, `simaccel.energy`) × the chips running it, plus
every chip of the system powered (static power) for the plan's whole time, compute and
collectives alike — the basis `simaccel.partition` charges every layout on (link energy is
not in the hardware configs, so it is not counted).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from simaccel import link_engine
from simaccel.collectives import Algorithm, Collective, plan
from simaccel.energy import energy_table, static_pj
from simaccel.errors import InputError
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel
from simaccel.network import Network, system_network
from simaccel.report import Report
from simaccel.tensor_parallel import Shares, Split, splits


class Layout(StrEnum):
    """Where an activation lives across the chips (see the module docstring)."""

    REPLICATED = "replicated"
    BATCH = "batch"
    CHANNEL = "channel"
    PARTIAL = "partial"


class Objective(StrEnum):
    """What the search minimises: ``latency`` (cycles) or ``energy`` (pJ)."""

    LATENCY = "latency"
    ENERGY = "energy"


@dataclass(frozen=True)
class Strategy:
    """A way to run one kernel: the layout its inputs must be in, the one it writes, and
    which of the `Shares` figures (``whole``, ``n``, ``k``) one chip's share takes."""

    name: str
    reads: Layout
    writes: Layout
    share: str


#: The strategies, by name (see the module docstring's table).
STRATEGIES = {s.name: s for s in (
    Strategy("data", Layout.BATCH, Layout.BATCH, "whole"),
    Strategy("tensor_n", Layout.REPLICATED, Layout.CHANNEL, "n"),
    Strategy("tensor_k", Layout.CHANNEL, Layout.PARTIAL, "k"),
    Strategy("channel", Layout.CHANNEL, Layout.CHANNEL, "n"),
    Strategy("replicated", Layout.REPLICATED, Layout.REPLICATED, "whole"))}

#: The strategies a whole-model ``--parallel`` kind allows.
KINDS = {"data": frozenset({"data"}),
         "tensor": frozenset({"tensor_n", "tensor_k", "channel", "replicated"}),
         "per_layer": frozenset(STRATEGIES)}

#: (from, to) → the collective that changes an activation's layout; absent pairs are free
#: (from replicated, or no change) or impossible (to partial).
CONVERSIONS = {
    (Layout.BATCH, Layout.REPLICATED): Collective.ALL_GATHER,
    (Layout.CHANNEL, Layout.REPLICATED): Collective.ALL_GATHER,
    (Layout.PARTIAL, Layout.REPLICATED): Collective.ALL_REDUCE,
    (Layout.PARTIAL, Layout.CHANNEL): Collective.REDUCE_SCATTER,
    (Layout.PARTIAL, Layout.BATCH): Collective.REDUCE_SCATTER,
    (Layout.BATCH, Layout.CHANNEL): Collective.ALL_TO_ALL,
    (Layout.CHANNEL, Layout.BATCH): Collective.ALL_TO_ALL,
}


def strategies(kernel: Kernel) -> tuple[Strategy, ...]:
    """The strategies ``kernel`` allows (see the module docstring's table)."""
    allowed = splits(kernel)
    names = ["data"]
    if isinstance(kernel, GemmKernel) and kernel.groups == 1 and Split.K in allowed:
        names += ["tensor_n", "tensor_k"]
    elif Split.N in allowed:
        names.append("channel")
    if not isinstance(kernel, GemmKernel) or kernel.filter_is_activation:
        names.append("replicated")
    return tuple(STRATEGIES[n] for n in names)


@dataclass(frozen=True)
class Choice:
    """One kernel's strategy, its compute ``cycles`` and ``energy_pj`` for the batch, the
    re-distribution it needs first (``convert``: collective names, ``convert_cycles``),
    and every allowed strategy's compute cycles (``candidates``), for the report."""

    kernel: str
    strategy: str
    cycles: int
    energy_pj: float
    convert: tuple[str, ...]
    convert_cycles: int
    candidates: tuple[tuple[str, int], ...]
    converted: tuple[tuple[str, str], ...] = ()  #: (tensor, layout it was brought to)


@dataclass(frozen=True)
class LayerPlan:
    """A strategy per kernel for ``batch`` inferences on ``chips`` chips: total ``cycles``
    (compute plus re-distribution, including the outputs' ``final_cycles``, by the
    collectives ``final_convert``), ``energy_pj`` and ``comm_cycles`` (the
    re-distributions' share of ``cycles``)."""

    chips: int
    batch: int
    choices: tuple[Choice, ...]
    final_cycles: int
    cycles: int
    comm_cycles: int
    energy_pj: float
    final_convert: tuple[str, ...] = ()


@dataclass(frozen=True)
class Costs:
    """What the search reads: the kernels, `Shares`, bytes of each kernel's output for one
    inference (``output_bytes``) and of the same tensor as a partial sum
    (``partial_bytes``), the model's output tensors, and the hardware."""

    kernels: tuple[Kernel, ...]
    shares: Shares
    output_bytes: dict[str, int]
    partial_bytes: dict[str, int]
    outputs: tuple[str, ...]
    hw: Hardware


def costs_of(report: Report, shares: Shares) -> Costs:
    """`Costs` of a one-chip ``report`` and its `Shares`."""
    hw = report.hardware
    shapes = report.graph.shapes
    kernels = tuple(r.work.kernel for r in report.results.layers)
    elements = {k.output: math.prod(shapes[k.output]) if k.output in shapes
                else k.ofmap_elements if isinstance(k, GemmKernel) else k.elements
                for k in kernels}
    return Costs(kernels, shares,
                 {t: e * hw.dtypes.input.bytes for t, e in elements.items()},
                 {t: e * hw.dtypes.accumulator.bytes for t, e in elements.items()},
                 tuple(report.graph.model.outputs), hw)


@lru_cache(maxsize=4096)
def _collective_cycles(network: Network, collective: Collective, nbytes: int) -> int:
    """Cycles of ``collective`` of ``nbytes`` among all the network's nodes: the faster of
    the ring and the tree algorithm, each timed by the link engine. Raises ValueError
    when neither can be timed among that many nodes (`conversion` names the field)."""
    timed, why = [], []
    for algorithm in Algorithm:
        try:  # ValueError: no such algorithm for this count, or too many to time
            timed.append(link_engine.run(
                network, plan(collective, algorithm, network.nodes, nbytes)).cycles)
        except ValueError as exc:
            why.append(str(exc))
    if not timed:
        raise ValueError(f"{collective.value} among {network.nodes} chips cannot be timed: "
                         + "; ".join(why))
    return min(timed)


def conversion(costs: Costs, tensor: str, source: Layout, target: Layout, batch: int
               ) -> tuple[str | None, int]:
    """(collective name or None, cycles) to bring ``tensor`` from ``source`` to ``target``
    for ``batch`` inferences. Raises ValueError for a target of ``partial``, `InputError`
    naming the config's ``[system] chips`` when the collective cannot be timed among that
    many chips (the collectives' bound on link messages)."""
    if source is target or source is Layout.REPLICATED:
        return None, 0
    if target is Layout.PARTIAL:
        raise ValueError("no kernel reads a partial sum")
    collective = CONVERSIONS[(source, target)]
    network = system_network(costs.hw)
    if batch < network.nodes and Layout.BATCH in (source, target):
        # a gather to (or scatter from) the few chips that hold inferences
        collective = (Collective.ALL_REDUCE if source is Layout.PARTIAL
                      else Collective.ALL_GATHER)
    sizes = costs.partial_bytes if source is Layout.PARTIAL else costs.output_bytes
    nbytes = batch * sizes[tensor]
    if collective is Collective.ALL_TO_ALL:
        nbytes = math.ceil(nbytes / network.nodes)  # what one chip sends in all
    try:
        return collective.value, _collective_cycles(network, collective, nbytes)
    except ValueError as exc:
        raise InputError(*costs.hw.where("system.chips"), str(exc)) from None


def _compute(costs: Costs, i: int, strategy: Strategy, batch: int) -> tuple[int, float]:
    """(cycles, pJ) of kernel ``i`` under ``strategy`` for ``batch`` inferences."""
    chips = costs.hw.system.chips
    shares = costs.shares
    cycles, pj = {"whole": (shares.whole_cycles[i], shares.whole_pj[i]),
                  "n": (shares.n_cycles[i], shares.n_pj[i]),
                  "k": (shares.k_cycles[i], shares.k_pj[i])}[strategy.share]
    if strategy.reads is Layout.BATCH:  # the inferences spread: each chip ⌈B / chips⌉
        return math.ceil(batch / chips) * cycles, batch * pj
    return batch * cycles, batch * chips * pj


def _powered_pj(costs: Costs, cycles: int) -> float:
    """Every chip's static energy over ``cycles`` of compute or collectives (pJ)."""
    return static_pj(energy_table(costs.hw), cycles, costs.hw) * costs.hw.system.chips


def _held(choices: tuple[Choice, ...], writer: dict[str, int], tensor: str
          ) -> set[Layout]:
    """The layouts ``tensor`` is in after ``choices``: its producer's (replicated for a
    model input) and those earlier re-distributions made of it."""
    j = writer.get(tensor)
    held = {STRATEGIES[choices[j].strategy].writes if j is not None and j < len(choices)
            else Layout.REPLICATED}
    held.update(Layout(layout) for c in choices for t, layout in c.converted if t == tensor)
    return held


def _step(costs: Costs, writer: dict[str, int], choices: tuple[Choice, ...],
          strategy: Strategy, batch: int) -> Choice:
    """The next kernel after ``choices`` under ``strategy``: each input brought to the
    layout it reads by the cheapest collective from a layout it is held in (none when
    it is already there or held whole)."""
    i = len(choices)
    kernel = costs.kernels[i]
    names, converted, convert_cycles = [], [], 0
    for tensor in dict.fromkeys(kernel.inputs):
        held = _held(choices, writer, tensor)
        if strategy.reads in held or Layout.REPLICATED in held:
            continue
        name, cycles = min((conversion(costs, tensor, source, strategy.reads, batch)
                            for source in sorted(held)), key=lambda c: c[1])
        names.append(f"{name} {tensor}")
        converted.append((tensor, strategy.reads.value))
        convert_cycles += cycles
    cycles, pj = _compute(costs, i, strategy, batch)
    candidates = tuple((s.name, _compute(costs, i, s, batch)[0])
                       for s in strategies(kernel))
    return Choice(kernel.name, strategy.name, cycles,
                  pj + _powered_pj(costs, cycles + convert_cycles),
                  tuple(names), convert_cycles, candidates, tuple(converted))


def _final(costs: Costs, writer: dict[str, int], choices: tuple[Choice, ...], batch: int
           ) -> tuple[int, tuple[str, ...]]:
    """Cycles to make the model's outputs whole (replicated or batch, the cheaper), and the
    collectives doing it (``"<collective> <tensor>"``)."""
    total, names = 0, []
    for tensor in costs.outputs:
        name, cycles = min((conversion(costs, tensor, source, target, batch)
                            for source in sorted(_held(choices, writer, tensor))
                            for target in (Layout.REPLICATED, Layout.BATCH)),
                           key=lambda c: c[1])
        total += cycles
        if name is not None:
            names.append(f"{name} {tensor}")
    return total, tuple(names)


def _writers(costs: Costs) -> dict[str, int]:
    return {k.output: i for i, k in enumerate(costs.kernels)}


def _finish(costs: Costs, choices: tuple[Choice, ...], batch: int) -> LayerPlan:
    writer = _writers(costs)
    final, names = _final(costs, writer, choices, batch)
    comm = sum(c.convert_cycles for c in choices) + final
    return LayerPlan(costs.hw.system.chips, batch, choices, final,
                     sum(c.cycles for c in choices) + comm, comm,
                     sum(c.energy_pj for c in choices) + _powered_pj(costs, final), names)


def evaluate(costs: Costs, names: tuple[str, ...], batch: int) -> LayerPlan:
    """The `LayerPlan` of strategy ``names`` (one a kernel) for ``batch`` inferences.
    Raises ValueError for a strategy a kernel does not allow."""
    writer = _writers(costs)
    choices: tuple[Choice, ...] = ()
    for i, name in enumerate(names):
        if STRATEGIES[name] not in strategies(costs.kernels[i]):
            raise ValueError(f"{costs.kernels[i].name} cannot run {name}")
        choices += (_step(costs, writer, choices, STRATEGIES[name], batch),)
    return _finish(costs, choices, batch)


def rank(cycles: int, pj: float, objective: Objective) -> tuple[float, float]:
    """What ``objective`` ranks plans and layouts by: its own figure, then the other."""
    return (cycles, pj) if objective is Objective.LATENCY else (pj, cycles)


def search(costs: Costs, batch: int, allowed: Collection[str] = KINDS["per_layer"],
           objective: Objective = Objective.LATENCY) -> LayerPlan:
    """The plan of least ``objective`` for ``batch`` inferences using only the ``allowed``
    strategies (a kernel that allows none of them runs ``data``; see the module docstring
    for the programme)."""
    writer = _writers(costs)
    # states: per strategy of the latest kernel, the best (cycles, pJ, choices) reaching it
    states: list[tuple[int, float, tuple[Choice, ...]]] = [(0, 0.0, ())]
    for kernel in costs.kernels:
        options = [s for s in strategies(kernel) if s.name in allowed] or [STRATEGIES["data"]]
        best: dict[str, tuple[int, float, tuple[Choice, ...]]] = {}
        for cycles, pj, choices in states:
            for strategy in options:
                step = _step(costs, writer, choices, strategy, batch)
                value = (cycles + step.cycles + step.convert_cycles, pj + step.energy_pj,
                         (*choices, step))
                held = best.get(strategy.name)
                if held is None or rank(*value[:2], objective) < rank(*held[:2], objective):
                    best[strategy.name] = value
        states = list(best.values())
    plans = [_finish(costs, choices, batch) for _, _, choices in states]
    return min(plans, key=lambda p: rank(p.cycles, p.energy_pj, objective))
