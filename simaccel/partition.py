"""Any model (CNN, encoder) on a system of chips: data parallelism and pipeline
parallelism over the kernels one chip's simulation timed (LLM decoders: `simaccel.llm`).

* **data**: every chip runs the whole model on its own inputs; a batch of ``chips``
  inferences takes one inference's time, no communication (inference has no gradients).
* **pipeline**: the kernels, in execution order, are cut into contiguous stages (one a
  chip) so that the slowest stage's compute is least — a per-layer choice made by an exact
  search (the linear-partition dynamic programme) over each kernel's cost; each cut sends
  the tensors that cross it to the next chip over the links (timed by the link engine).
  One inference's latency is the sum of the stages and transfers; in steady state a new
  inference leaves every ``interval`` cycles (the slowest stage plus its transfer);
  ``micro_batches`` inferences take (m + stages − 1) intervals, the bubble being
  (stages − 1) / (m + stages − 1). The number of stages, 1 … ``chips``, is the one that
  finishes the batch first (or spends least energy): more stages shorten the interval but
  lengthen the latency by their sends.
* **tensor**: every GEMM split along N or K over the chips, vector kernels split by channel
  or replicated, the choice per layer and the re-distribution collectives between them
  found by `simaccel.layer_plan.search` over the engine-timed shares of
  `simaccel.tensor_parallel`.
* **auto**: the least time (or energy) of data, pipeline, tensor and the per-layer plan
  (``per_layer``: each layer data, tensor along N or K, channel-split or replicated,
  whichever is best counting the collectives that change layout between layers); a tie
  goes to the simpler layout, in that order.

One basis for every layout: a kernel costs what it adds to its run's end
(`simaccel.tensor_parallel.run_costs`), so the costs of a model's kernels add up to the
engine's one-chip run — data parallelism's time — and a stage or a layer plan sums the same
figures. Energy: the work's dynamic energy plus every chip of the system powered (static
power) for the batch's whole time, idle, sending or computing (`batch_energy_pj`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from simaccel import link_engine
from simaccel.collectives import Message
from simaccel.domain import MAX_BATCH, PARALLEL
from simaccel.energy import energy_table, static_pj
from simaccel.layer_plan import (
    KINDS,
    Choice,
    Costs,
    LayerPlan,
    Objective,
    costs_of,
    evaluate,
    rank,
    search,
)
from simaccel.network import system_network
from simaccel.report import Report
from simaccel.tensor_parallel import run_costs, sliced_runs

#: The layouts from simplest to most involved: a tie (in time or energy) goes to the first.
SIMPLEST_FIRST = ("data", "pipeline", "tensor", "per_layer")


@dataclass(frozen=True)
class Stage:
    """Kernels ``first`` … ``last`` (inclusive, execution order) on one chip: their
    ``cycles``, and the bytes of the tensors they send on (``send_bytes``) and the cycles
    that transfer takes (``send_cycles``; 0 for the last stage)."""

    first: int
    last: int
    cycles: int
    send_bytes: int
    send_cycles: int


@dataclass(frozen=True)
class Partition:
    """A model laid on ``chips`` chips: per stage its kernels and times; ``latency`` of one
    inference, ``interval`` between inferences in steady state, and for ``micro_batches``
    inferences their ``batch_cycles`` and the ``bubble`` (cycles; fractions 0..1).
    ``dynamic_pj``: one inference's dynamic energy (data, pipeline); ``powered_pj``: every
    chip of the system's static energy a cycle (pJ); ``final_cycles`` and
    ``final_convert``: a layer plan's collectives making the model's outputs whole (part
    of ``comm_cycles``, after the last kernel)."""

    parallel: str
    chips: int
    stages: tuple[Stage, ...]
    latency_cycles: int
    interval_cycles: int
    micro_batches: int
    batch_cycles: int
    bubble: float
    energy_pj: float = 0.0  #: of ``micro_batches`` inferences, all chips
    comm_cycles: int = 0  #: of ``batch_cycles``, re-distribution collectives (layer plans)
    layers: tuple[Choice, ...] = ()  #: per kernel, a layer plan's choices (else empty)
    dynamic_pj: float = 0.0
    powered_pj: float = 0.0
    final_cycles: int = 0
    final_convert: tuple[str, ...] = ()


def _powered_pj(report: Report) -> float:
    """Static energy of every chip of the report's system in one cycle (pJ)."""
    hw = report.hardware
    return static_pj(energy_table(hw), 1, hw) * hw.system.chips


def _dynamic_pj(report: Report) -> float:
    """One inference's dynamic energy on one chip (pJ): the run's energy less static."""
    return report.energy.total.total - report.energy.total.static


def _with_energy(part: Partition) -> Partition:
    return replace(part, energy_pj=batch_energy_pj(part, part.micro_batches))


def data_parallel(report: Report, chips: int) -> Partition:
    """``chips`` copies of the one-chip run, one inference each."""
    cycles = report.results.total.cycles
    stage = Stage(0, len(report.results.layers) - 1, cycles, 0, 0)
    return _with_energy(Partition("data", chips, (stage,), cycles, math.ceil(cycles / chips),
                                  chips, cycles, 0.0, dynamic_pj=_dynamic_pj(report),
                                  powered_pj=_powered_pj(report)))


def _costs(report: Report) -> list[int]:
    """Each kernel's cost (cycles; they add up to the run, `run_costs`)."""
    return run_costs([(r.start_cycle, r.end_cycle) for r in report.results.layers])


def split_points(costs: list[int], stages: int) -> list[tuple[int, int]]:
    """Contiguous ranges (first, last) of ``costs`` in at most ``stages`` parts whose
    largest sum is least (the linear-partition dynamic programme, O(n² · stages)):
    split_points([4, 1, 1, 4], 2) = [(0, 1), (2, 3)]."""
    best, cut = _linear_partition(costs, stages)
    k = min(range(1, len(best)), key=lambda s: (best[s][len(costs)], s))
    return _ranges(cut, k, len(costs))


def _linear_partition(costs: list[int], stages: int) -> tuple[list[list[float]],
                                                              list[list[int]]]:
    """The linear-partition tables: ``best[k][j]``, the least largest part of ``costs[:j]``
    in exactly ``k`` parts (k ≤ min(stages, n)), and ``cut[k][j]`` where its last part
    starts."""
    n = len(costs)
    stages = max(1, min(stages, n))
    prefix = [0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    best = [[math.inf] * (n + 1) for _ in range(stages + 1)]
    cut = [[0] * (n + 1) for _ in range(stages + 1)]
    best[0][0] = 0
    for k in range(1, stages + 1):
        for j in range(1, n + 1):
            for i in range(k - 1, j):
                value = max(best[k - 1][i], prefix[j] - prefix[i])
                if value < best[k][j]:
                    best[k][j], cut[k][j] = value, i
    return best, cut


def _ranges(cut: list[list[int]], k: int, n: int) -> list[tuple[int, int]]:
    """The ``k`` ranges (first, last) the `_linear_partition` cuts give ``n`` kernels."""
    ranges, j = [], n
    while k > 0:
        i = cut[k][j]
        ranges.append((i, j - 1))
        j, k = i, k - 1
    return ranges[::-1]


def _crossing_bytes(report: Report, last: int) -> int:
    """Bytes of the tensors written by kernels ≤ ``last`` and read by kernels after it."""
    kernels = [r.work.kernel for r in report.results.layers]
    written = {k.output for k in kernels[:last + 1]} | {
        t.name for t in report.graph.model.inputs}
    read_later = {t for k in kernels[last + 1:] for t in k.inputs}
    size = report.hardware.dtypes.input.bytes
    return sum(math.prod(report.graph.shapes[t]) * size for t in written & read_later
               if t in report.graph.shapes)


def pipeline_parallel(report: Report, chips: int, micro_batches: int = 1,
                      objective: Objective = Objective.LATENCY) -> Partition:
    """The one-chip run cut into the number of stages, 1 … ``chips``, that finishes
    ``micro_batches`` inferences first (``objective`` energy: spends least; a tie to fewer
    stages; see the module docstring)."""
    costs = _costs(report)
    best, cut = _linear_partition(costs, chips)
    network, sends, crossing = system_network(report.hardware), {}, {}

    def send(n: int, last: int) -> tuple[int, int]:
        if last not in crossing:
            crossing[last] = _crossing_bytes(report, last)
        nbytes = crossing[last]
        if (n, nbytes) not in sends:
            sends[n, nbytes] = link_engine.run(
                network, [Message(0, n, n + 1, nbytes)]).cycles if nbytes else 0
        return nbytes, sends[n, nbytes]

    options = []
    for k in range(1, len(best)):
        ranges = _ranges(cut, k, len(costs))
        stages = [Stage(first, last, sum(costs[first:last + 1]),
                        *(send(n, last) if n < k - 1 else (0, 0)))
                  for n, (first, last) in enumerate(ranges)]
        options.append(_pipeline(report, stages, micro_batches))
    return _ranked(options, micro_batches, objective)[0]


def _pipeline(report: Report, stages: list[Stage], micro_batches: int) -> Partition:
    """The `Partition` of a pipeline of ``stages`` serving ``micro_batches`` inferences."""
    latency = sum(s.cycles + s.send_cycles for s in stages)
    interval = max(s.cycles + s.send_cycles for s in stages)
    slots = micro_batches + len(stages) - 1
    return _with_energy(Partition(
        "pipeline", len(stages), tuple(stages), latency, interval, micro_batches,
        latency + (micro_batches - 1) * interval, (len(stages) - 1) / slots,
        dynamic_pj=_dynamic_pj(report), powered_pj=_powered_pj(report)))


def _key(part: Partition, batch: int, objective: Objective) -> tuple[float, float]:
    """What ``objective`` ranks partitions by for ``batch`` inferences, then the other."""
    return rank(batch_cycles(part, batch), batch_energy_pj(part, batch), objective)


def _compare(a: tuple[float, ...], b: tuple[float, ...]) -> int:
    """-1, 0 or 1 as key ``a`` ranks before, level with or after ``b``, figures within a
    part in 10⁹ of each other level (energies summed in another order differ by rounding)."""
    for x, y in zip(a, b, strict=True):
        if not math.isclose(x, y, rel_tol=1e-9):
            return -1 if x < y else 1
    return 0


def _ranked(options: list[Partition], batch: int, objective: Objective) -> list[Partition]:
    """``options`` best first by ``objective`` for ``batch`` inferences; level ones keep
    their order (callers list the simpler first)."""
    keys = {id(p): _key(p, batch, objective) for p in options}
    return sorted(options, key=functools.cmp_to_key(
        lambda p, q: _compare(keys[id(p)], keys[id(q)])))


def layer_partition(report: Report, kind: str, batch: int,
                    objective: Objective = Objective.LATENCY, costs: Costs | None = None
                    ) -> Partition:
    """``batch`` inferences by a layer plan (`simaccel.layer_plan.search`): ``kind``
    ``tensor`` (tensor splits only) or ``per_layer`` (any strategy a layer: the best of
    its search, the tensor plan and the all-data plan, so it is never worse than either);
    ``costs`` the report's `Costs` when already made (else two more simulations make
    them)."""
    chips = report.hardware.system.chips
    if costs is None:
        costs = costs_of(report, sliced_runs(report, chips))
    plan = search(costs, batch, KINDS[kind], objective)
    if kind == "per_layer":
        plans = (_all_data(costs, batch), search(costs, batch, KINDS["tensor"], objective),
                 plan, *_seeded(costs, batch, objective))
        keys = [rank(p.cycles, p.energy_pj, objective) for p in plans]
        plan = plans[min(range(len(plans)), key=functools.cmp_to_key(
            lambda i, j: _compare(keys[i], keys[j]) or i - j))]
    stage = Stage(0, len(plan.choices) - 1, plan.cycles, 0, 0)
    return Partition(kind, chips, (stage,), plan.cycles, math.ceil(plan.cycles / batch),
                     batch, plan.cycles, 0.0, plan.energy_pj, plan.comm_cycles,
                     plan.choices, final_cycles=plan.final_cycles,
                     final_convert=plan.final_convert)


def _seeded(costs: Costs, batch: int, objective: Objective) -> tuple[LayerPlan, ...]:
    """More candidates for the per-layer plan, each evaluated at ``batch``: the search's
    plan for the other objective and its plans for nearby batches (1, batch ± 1, the chip
    count, twice the batch). The programme is exact on a chain, but where a branch's tensor
    is converted once for two readers its costs do not add up stage by stage, and it can
    miss: found by a tester, EfficientNet-tiny's plan for 13 inferences ran 12 in 5% less
    than the plan found for 12. With these seeds the energy pick never spends more than the
    latency pick, and a larger batch's plan is always among a smaller one's candidates."""
    other = Objective.ENERGY if objective is Objective.LATENCY else Objective.LATENCY
    chips = costs.hw.system.chips
    found = [search(costs, batch, KINDS["per_layer"], other)]
    for nearby in sorted({1, batch - 1, batch + 1, chips, 2 * batch} - {batch}):
        if 1 <= nearby <= MAX_BATCH:
            found.append(search(costs, nearby, KINDS["per_layer"], objective))
    return tuple(evaluate(costs, tuple(c.strategy for c in plan.choices), batch)
                 for plan in found)


def _all_data(costs: Costs, batch: int) -> LayerPlan:
    """The layer plan running every kernel ``data``."""
    return evaluate(costs, ("data",) * len(costs.kernels), batch)


def batch_cycles(part: Partition, batch: int) -> int:
    """Cycles for ``batch`` inferences under ``part``. Raises ValueError for a layer plan
    made for another batch."""
    if part.layers:
        if batch != part.micro_batches:
            raise ValueError(f"the plan is for a batch of {part.micro_batches}, not {batch}")
        return part.batch_cycles
    if part.parallel == "data":
        return math.ceil(batch / part.chips) * part.latency_cycles
    return part.latency_cycles + (batch - 1) * part.interval_cycles


def batch_energy_pj(part: Partition, batch: int) -> float:
    """Energy (pJ) of ``batch`` inferences under ``part`` (a layer plan: its own batch):
    their dynamic energy plus every chip of the system's static power over the batch's
    cycles (`batch_cycles`)."""
    if part.layers:
        return part.energy_pj
    return batch * part.dynamic_pj + part.powered_pj * batch_cycles(part, batch)


def comm_share(part: Partition, batch: int) -> float:
    """The share (0..1) of ``batch`` inferences' cycles (`batch_cycles`) spent
    communicating: none for data parallelism; a layer plan's re-distributions (the final
    one included); a pipeline's sends on the batch's critical path, every send of the
    first inference's latency plus, for each later inference, the bottleneck stage's send
    (the stage of the longest compute-plus-send, whose interval paces the rest). The one
    definition the CLI, `simaccel.partition_model` and the sweeps' ``parallel_comm_share``
    print."""
    cycles = batch_cycles(part, batch)
    if not cycles:
        return 0.0
    if part.layers:
        return part.comm_cycles / cycles
    if part.parallel == "data":
        return 0.0
    bottleneck = max(part.stages, key=lambda s: s.cycles + s.send_cycles)
    sends = sum(s.send_cycles for s in part.stages) + (batch - 1) * bottleneck.send_cycles
    return sends / cycles


def model_batch(report: Report) -> int:
    """Inferences in one run of the report's model: its first input's first dimension, the
    batch `simaccel simulate`'s ``inferences_per_s`` counts (docs/report.md). A partition's
    ``batch`` counts runs (micro-batches), so ``batch`` runs serve ``batch`` × this."""
    return report.graph.model.inputs[0].shape[0]


def inferences_per_s(report: Report, part: Partition, batch: int) -> float:
    """Inferences a second (1/s) of ``batch`` runs of the report's model under ``part``:
    ``batch`` × `model_batch` over `batch_cycles` at the report's clock (0.0 for a run of
    no cycles). On one chip it is `simaccel simulate`'s ``inferences_per_s``. The one
    definition the CLI, `simaccel.partition_model` and the sweeps'
    ``parallel_inferences_per_s`` print. Raises ValueError as `batch_cycles`."""
    seconds = batch_cycles(part, batch) / (report.hardware.clock_mhz * 1e6)
    return batch * model_batch(report) / seconds if seconds else 0.0


def choose(report: Report, parallel: str, batch: int,
           objective: Objective = Objective.LATENCY) -> tuple[Partition, str]:
    """The partition ``parallel`` names (``data``, ``tensor``, ``pipeline``, or ``auto``:
    of those and the per-layer plan, the one that finishes ``batch`` inferences first, or
    with ``objective`` energy spends least) on the report's system, and why (the others'
    figures). Raises ValueError for a ``parallel`` not in `PARALLEL`."""
    chips = report.hardware.system.chips
    makers = {"data": lambda: data_parallel(report, chips),
              "pipeline": lambda: pipeline_parallel(report, chips, batch, objective),
              "tensor": lambda: layer_partition(report, "tensor", batch, objective)}
    if parallel in makers:
        return makers[parallel](), ""
    if parallel != "auto":
        raise ValueError(f"{parallel!r} is not one of {', '.join(PARALLEL)}")
    costs = costs_of(report, sliced_runs(report, chips))
    options = [makers["data"](), makers["pipeline"]()] + [
        layer_partition(report, kind, batch, objective, costs)
        for kind in ("tensor", "per_layer")]
    mhz = report.hardware.clock_mhz
    options.sort(key=lambda p: SIMPLEST_FIRST.index(p.parallel))
    timed = _ranked(options, batch, objective)
    if objective is Objective.ENERGY:
        return timed[0], f"least energy for the batch of {batch}: " + ", ".join(
            f"{p.parallel} {batch_energy_pj(p, batch) / 1e9:.3f} mJ" for p in timed)
    return timed[0], f"fastest for the batch of {batch}: " + ", ".join(
        f"{p.parallel} {batch_cycles(p, batch) / mhz / 1e3:.3f} ms" for p in timed)
