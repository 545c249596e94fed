"""Any model (CNN, encoder) on a system of chips: data parallelism and pipeline
parallelism over the kernels one chip's simulation timed (LLM decoders: `simaccel.llm`).

* **data**: every chip runs the whole model on its own inputs; a batch of ``chips``
  inferences takes one inference's time, no communication (inference has no gradients).
* **pipeline**: the kernels, in execution order, are cut into ``stages`` contiguous stages
  (one a chip) so that the slowest stage's compute is least — a per-layer choice made
  by an exact search (the linear-partition dynamic programme) over each kernel's simulated
  window; each cut sends the tensors that cross it to the next chip over the links
  (timed by the link engine). One inference's latency is the sum of the stages and
  transfers; in steady state a new inference leaves every ``interval`` cycles (the slowest
  stage plus its transfer); ``micro_batches`` inferences take (m + stages − 1) intervals,
  the bubble being (stages − 1) / (m + stages − 1).
* **tensor**: every GEMM split along N or K over the chips, vector kernels split by channel
  or replicated, the choice per layer and the re-distribution collectives between them
  found by `simaccel.layer_plan.search` over the engine-timed shares of
  `simaccel.tensor_parallel`.
* **auto**: the least time (or energy) of data, pipeline, tensor and the per-layer plan
  (``per_layer``: each layer data, tensor along N or K, channel-split or replicated,
  whichever is best counting the collectives that change layout between layers).

Stage times add kernel windows, which in a chain add up to the run; where branches overlap
on a chip the sum is an upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simaccel import link_engine
from simaccel.collectives import Message
from simaccel.domain import PARALLEL
from simaccel.layer_plan import KINDS, Choice, Costs, Objective, costs_of, search
from simaccel.network import system_network
from simaccel.report import Report
from simaccel.tensor_parallel import sliced_runs


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
    inferences their ``batch_cycles`` and the ``bubble`` (cycles; fractions 0..1)."""

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


def data_parallel(report: Report, chips: int) -> Partition:
    """``chips`` copies of the one-chip run, one inference each."""
    cycles = report.results.total.cycles
    stage = Stage(0, len(report.results.layers) - 1, cycles, 0, 0)
    return Partition("data", chips, (stage,), cycles, math.ceil(cycles / chips), chips,
                     cycles, 0.0, chips * report.energy.total.total)


def _windows(report: Report) -> list[int]:
    return [r.cycles for r in report.results.layers]


def split_points(costs: list[int], stages: int) -> list[tuple[int, int]]:
    """Contiguous ranges (first, last) of ``costs`` in at most ``stages`` parts whose
    largest sum is least (the linear-partition dynamic programme, O(n² · stages)):
    split_points([4, 1, 1, 4], 2) = [(0, 1), (2, 3)]."""
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
    k = min(range(1, stages + 1), key=lambda s: (best[s][n], s))
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


def pipeline_parallel(report: Report, chips: int, micro_batches: int = 1) -> Partition:
    """The one-chip run cut into at most ``chips`` stages (see the module docstring)."""
    network = system_network(report.hardware)
    ranges = split_points(_windows(report), chips)
    costs = _windows(report)
    stages = []
    for n, (first, last) in enumerate(ranges):
        nbytes = _crossing_bytes(report, last) if n < len(ranges) - 1 else 0
        send = link_engine.run(network, [Message(0, n, n + 1, nbytes)]).cycles \
            if nbytes else 0
        stages.append(Stage(first, last, sum(costs[first:last + 1]), nbytes, send))
    latency = sum(s.cycles + s.send_cycles for s in stages)
    interval = max(s.cycles + s.send_cycles for s in stages)
    slots = micro_batches + len(stages) - 1
    return Partition("pipeline", len(stages), tuple(stages), latency, interval,
                     micro_batches, latency + (micro_batches - 1) * interval,
                     (len(stages) - 1) / slots, micro_batches * report.energy.total.total)


def layer_partition(report: Report, kind: str, batch: int,
                    objective: Objective = Objective.LATENCY, costs: Costs | None = None
                    ) -> Partition:
    """``batch`` inferences by a layer plan (`simaccel.layer_plan.search`): ``kind``
    ``tensor`` (tensor splits only) or ``per_layer`` (any strategy a layer); ``costs``
    the report's `Costs` when already made (else two more simulations make them)."""
    chips = report.hardware.system.chips
    if costs is None:
        costs = costs_of(report, sliced_runs(report, chips))
    plan = search(costs, batch, KINDS[kind], objective)
    stage = Stage(0, len(plan.choices) - 1, plan.cycles, 0, 0)
    return Partition(kind, chips, (stage,), plan.cycles, math.ceil(plan.cycles / batch),
                     batch, plan.cycles, 0.0, plan.energy_pj, plan.comm_cycles,
                     plan.choices)


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
    """Energy (pJ) of ``batch`` inferences under ``part`` (a layer plan: its own batch)."""
    return part.energy_pj if part.layers else part.energy_pj / part.micro_batches * batch


def choose(report: Report, parallel: str, batch: int,
           objective: Objective = Objective.LATENCY) -> tuple[Partition, str]:
    """The partition ``parallel`` names (``data``, ``tensor``, ``pipeline``, or ``auto``:
    of those and the per-layer plan, the one that finishes ``batch`` inferences first, or
    with ``objective`` energy spends least) on the report's system, and why (the others'
    figures). Raises ValueError for a ``parallel`` not in `PARALLEL`."""
    chips = report.hardware.system.chips
    makers = {"data": lambda: data_parallel(report, chips),
              "pipeline": lambda: pipeline_parallel(report, chips, batch),
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
    if objective is Objective.ENERGY:
        timed = sorted(options, key=lambda p: (batch_energy_pj(p, batch),
                                               batch_cycles(p, batch)))
        return timed[0], f"least energy for the batch of {batch}: " + ", ".join(
            f"{p.parallel} {batch_energy_pj(p, batch) / 1e9:.3f} mJ" for p in timed)
    timed = sorted(options, key=lambda p: batch_cycles(p, batch))
    return timed[0], f"fastest for the batch of {batch}: " + ", ".join(
        f"{p.parallel} {batch_cycles(p, batch) / mhz / 1e3:.3f} ms" for p in timed)
