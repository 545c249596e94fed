"""Data-parallel training over a system's chips (docs/architecture.md, "Training",
"Data-parallel steps").

Every chip holds the whole model and runs the training step on its share of the batch
(batch / chips samples). Each parameter gradient (a layer's dW, db, or a normalisation's
dγ/dβ) is summed over the chips by an all-reduce (ring by default, `simaccel.collectives`)
started as soon as the kernel that writes it ends; the all-reduces run one at a time, in
the order their gradients are ready (one communication stream), each timed by the link
engine on the system's links. On more than one chip the optimizer updates move after the
last backward kernel (`defer_updates`, as a framework's optimizer step follows the
backward pass), so no backward kernel waits behind an update on the in-order vector unit;
a layer's update then starts no earlier than the end of its gradients' all-reduces, and
when it waits, the updates after it wait as long. The communication thus overlaps the rest
of the backward pass, and what is left over is *exposed*:

    step cycles = one chip's step cycles + exposed communication cycles.

Scaling is strong scaling (the global batch fixed): speedup(P) = T(1 chip, batch B) /
T(P chips, batch B), the throughput ratio; scaling efficiency = speedup / P. One chip runs
the plain step (updates in place, no communication). The reduction's additions are not
timed (as in `simaccel.collectives`), nor is link energy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache

from simaccel import link_engine
from simaccel.collectives import Algorithm, Collective, TooManyMessages, plan
from simaccel.errors import InputError
from simaccel.hardware import DramSharing, Hardware, vary
from simaccel.model import Model
from simaccel.network import Network, chip_network, system_network
from simaccel.training import Optimizer, TrainingStep
from simaccel.training_run import (
    TrainingReport,
    build_step,
    time_step,
    training_hardware,
    with_batch,
)


@dataclass(frozen=True)
class GradientReduce:
    """The all-reduce of one gradient tensor (``nbytes`` in the training type): when the
    kernel writing it ended (``ready_cycle``, on the data-parallel step's clock) and when the
    all-reduce held the links (``start_cycle`` … ``end_cycle``)."""

    tensor: str
    layer: str
    nbytes: int
    ready_cycle: int
    start_cycle: int
    end_cycle: int


@dataclass(frozen=True)
class DataParallelStep:
    """One data-parallel training step on ``chips`` chips of a global ``batch``: ``local``
    is one chip's step (batch / chips), ``reduces`` the gradients' all-reduces, ``cycles``
    the whole step (see the module docstring)."""

    chips: int
    batch: int
    algorithm: Algorithm
    local: TrainingReport
    reduces: tuple[GradientReduce, ...]
    cycles: int
    level: str = "system"  #: ``system``: the workers are chips; ``chip``: a chip's cores

    @property
    def hardware(self) -> Hardware:
        return self.local.report.hardware

    @property
    def compute_cycles(self) -> int:
        """One chip's step on its share of the batch, without communication."""
        return self.local.report.results.total.cycles

    @property
    def communication_cycles(self) -> int:
        """Cycles in which some all-reduce held the links."""
        return sum(r.end_cycle - r.start_cycle for r in self.reduces)

    @property
    def exposed_cycles(self) -> int:
        """Communication not hidden behind compute: the step less one chip's compute."""
        return self.cycles - self.compute_cycles

    @property
    def reduced_bytes(self) -> int:
        """Bytes all-reduced per step: every parameter gradient in the training type."""
        return sum(r.nbytes for r in self.reduces)

    @property
    def energy_pj(self) -> float:
        """Every worker's step energy (the links' energy is not modelled)."""
        return self.chips * self.local.report.energy.total.total

    @property
    def latency_s(self) -> float:
        return self.cycles / (self.hardware.clock_mhz * 1e6)

    @property
    def samples_per_s(self) -> float:
        return self.batch / self.latency_s

    def to_dict(self) -> dict:
        """The step's figures as JSON types."""
        return {"chips": self.chips, "level": self.level, "batch": self.batch,
                "per_chip_batch": self.batch // self.chips,
                "algorithm": self.algorithm.value, "cycles": self.cycles,
                "latency_s": self.latency_s, "samples_per_s": self.samples_per_s,
                "compute_cycles": self.compute_cycles,
                "communication_cycles": self.communication_cycles,
                "exposed_cycles": self.exposed_cycles, "reduced_bytes": self.reduced_bytes,
                "energy_pj": self.energy_pj,
                "reduces": [vars(r) for r in self.reduces]}


def per_chip_batch(model: Model, batch: int | None, chips: int, field: str = "--chips"
                   ) -> int:
    """``batch`` (None: the model's) split evenly over ``chips``; a batch that does not
    split is bad input naming ``field``."""
    total = batch if batch is not None else model.inputs[0].shape[0]
    if chips > total or total % chips:
        raise InputError(field, "", f"a batch of {total} does not split evenly over {chips} "
                         "chips (each chip trains on batch / chips samples)")
    return total // chips


def simulate_data_parallel(model: Model, hw: Hardware, chips: int | None = None,
                           optimizer: Optimizer | str = Optimizer.SGD,
                           batch: int | None = None, precision: str | None = None,
                           algorithm: Algorithm | str = Algorithm.RING,
                           recompute: bool = False, level: str = "system"
                           ) -> DataParallelStep:
    """One data-parallel training step of ``model`` (global ``batch``, default the model's)
    on ``chips`` chips of ``hw``'s system (None: its ``[system] chips``), linked as its
    ``[system]`` says; ``level="chip"``: on ``chips`` of one chip's cores (None: all),
    joined by its on-chip ring (see `workers`)."""
    if chips is None:
        chips = hw.system.chips if level == "system" else hw.chip.cores
    hw, network = workers(hw, level, chips)
    hw = training_hardware(hw, precision)
    share = per_chip_batch(model, batch, chips)
    step = build_step(with_batch(model, share), hw, Optimizer(optimizer), recompute)
    local = time_step(step if chips == 1 else defer_updates(step), hw, trace=False)
    algorithm = Algorithm(algorithm)

    @cache
    def all_reduce(nbytes: int) -> int:
        try:
            messages = plan(Collective.ALL_REDUCE, algorithm, network.nodes, nbytes)
            return link_engine.run(network, messages).cycles
        except TooManyMessages as exc:
            raise InputError(*hw.where("system.chips" if level == "system" else
                                       "chip.cores"), str(exc)) from None

    cycles, reduces = overlap(local, all_reduce) if chips > 1 else (
        local.report.results.total.cycles, ())
    return DataParallelStep(chips, share * chips, algorithm, local, reduces, cycles, level)


def workers(hw: Hardware, level: str, p: int) -> tuple[Hardware, Network]:
    """(the hardware one of ``p`` data-parallel workers runs its step on, the network
    joining them). ``system``: a chip of ``hw`` (its cores share the step), the
    ``[system]`` links among ``p`` chips. ``chip``: one core of ``hw``'s chip with, when the
    cores share one DRAM channel, 1/p of its bandwidth (the ``p`` cores run the same step
    at once), and the on-chip ring among ``p`` cores; more cores than the chip has is bad
    input naming ``--chips``."""
    if level == "system":
        hw = vary(hw, {"system.chips": p})
        return hw, system_network(hw)
    if level != "chip":
        raise InputError("--level", "", f"{level!r} is not one of system, chip")
    if p > hw.chip.cores:
        raise InputError("--chips", "", f"{p} cores asked of a chip of {hw.chip.cores}")
    changes: dict[str, object] = {"chip.cores": 1}
    if hw.chip.dram is DramSharing.SHARED and math.isfinite(hw.dram_bytes_per_cycle):
        changes["dram.bytes_per_cycle"] = hw.dram_bytes_per_cycle / p
    return vary(hw, changes), chip_network(vary(hw, {"chip.cores": p}))


def defer_updates(step: TrainingStep) -> TrainingStep:
    """``step`` with its optimizer updates after every other kernel, in their order."""
    pairs = list(zip(step.kernels, step.ops, strict=True))
    ordered = [p for p in pairs if p[1].phase != "update"] + [
        p for p in pairs if p[1].phase == "update"]
    return replace(step, kernels=tuple(k for k, _ in ordered), ops=tuple(o for _, o in ordered))


def gradient_bytes(step: TrainingStep, act_bytes: int) -> dict[str, int]:
    """Bytes of every parameter gradient (``<layer>.<name>.grad``) in the training type."""
    return {f"{name}.grad": n * act_bytes for name, n in step.parameters.items()}


def schedule_reduces(local: TrainingReport, all_reduce: Callable[[int], int]
                     ) -> tuple[GradientReduce, ...]:
    """Each gradient of ``local``'s step all-reduced (``all_reduce(nbytes)`` cycles) from
    the end of the kernel that writes it, one at a time in the order they are ready."""
    rows = local.report.results.layers
    sizes = gradient_bytes(local.step, local.report.hardware.dtypes.input.bytes)
    ready = sorted((row.end_cycle, i) for i, (row, op) in
                   enumerate(zip(rows, local.step.ops, strict=True)) if op.writes in sizes)
    link_free = 0
    reduces = []
    for end, i in ready:
        op = local.step.ops[i]
        start = max(end, link_free)
        link_free = start + all_reduce(sizes[op.writes])
        reduces.append(GradientReduce(op.writes, op.layer, sizes[op.writes], end, start,
                                      link_free))
    return tuple(reduces)


def overlap(local: TrainingReport, all_reduce: Callable[[int], int]
            ) -> tuple[int, tuple[GradientReduce, ...]]:
    """(step cycles, the all-reduces) of ``local``'s step with its gradients all-reduced
    (`schedule_reduces`): each update, in program order, starts no earlier than its
    gradients' all-reduces end, and a wait delays it and the updates after it."""
    reduces = schedule_reduces(local, all_reduce)
    done = {r.tensor: r.end_cycle for r in reduces}
    rows = local.report.results.layers
    end = shift = 0
    for row, op in zip(rows, local.step.ops, strict=True):
        if op.phase == "update":
            arrived = max((done[t] for t in op.reads if t in done), default=0)
            shift = max(shift, arrived - row.start_cycle)
            end = max(end, row.end_cycle + shift)
        else:
            end = max(end, row.end_cycle)
    return max(end, local.report.results.total.cycles), reduces


@dataclass(frozen=True)
class ScalingPoint:
    """One chip count of a sweep: its step, speedup over one chip and efficiency."""

    step: DataParallelStep
    speedup: float
    efficiency: float


def scaling(model: Model, hw: Hardware, chips: Sequence[int], batch: int | None = None,
            **options) -> tuple[ScalingPoint, ...]:
    """A data-parallel step per chip count in ``chips`` at the same global ``batch``, with
    speedup T(1) / T(P) and efficiency speedup / P (strong scaling; one chip is always
    simulated as the baseline). ``options``: as `simulate_data_parallel`."""
    one = simulate_data_parallel(model, hw, 1, batch=batch, **options)
    points = []
    for p in chips:
        step = one if p == 1 else simulate_data_parallel(model, hw, p, batch=batch, **options)
        speedup = one.cycles / step.cycles
        points.append(ScalingPoint(step, speedup, speedup / p))
    return tuple(points)


def chip_counts(text: str | None, hw: Hardware, level: str = "system") -> tuple[int, ...]:
    """``--chips 1,2,4,8`` (None: the config's ``[system] chips``, or its cores at the
    ``chip`` level); bad input names ``--chips``."""
    if text is None:
        return (hw.system.chips if level == "system" else hw.chip.cores,)
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InputError("--chips", "", f"expected chip counts like 1,2,4,8, got {text!r}"
                         ) from None
    bad = [c for c in counts if not 1 <= c <= MAX_CHIPS]
    if bad:
        raise InputError("--chips", "", f"{bad[0]} is outside 1..{MAX_CHIPS}")
    twice = [c for c in counts if counts.count(c) > 1]
    if twice:
        raise InputError("--chips", "", f"{twice[0]} is given twice")
    return counts


#: The most chips a sweep may ask for (`simaccel.hardware.SystemConfig`'s bound).
MAX_CHIPS = 4096


def run_cli(args, model: Model, hw: Hardware, optimizer: Optimizer) -> int:
    """``simaccel simulate MODEL --train --parallel data [--chips 1,2,4,8]``: one row per
    chip count; returns the exit code."""
    import json

    if args.parallel != "data":
        raise InputError("--parallel", "", f"{args.parallel!r}: training is data parallel "
                         "only (--parallel data)")
    for flag in ("out", "plots"):
        if getattr(args, flag):
            raise InputError(f"--{flag}", "", "not with --parallel data (use --json)")
    level = args.level or "system"
    points = scaling(model, hw, chip_counts(args.chips, hw, level), args.batch,
                     optimizer=optimizer, recompute=args.recompute, level=level)
    rows = [{**p.step.to_dict(), "speedup": p.speedup, "efficiency": p.efficiency}
            for p in points]
    if args.json:
        print(json.dumps({"data_parallel": rows}, indent=1))
        return 0
    for line in summary_lines(points):
        print(line)
    return 0


def summary_lines(points: Sequence[ScalingPoint]) -> list[str]:
    """A table of a sweep, a row per chip count, and what the columns mean."""
    step = points[-1].step
    hw, system = step.hardware, step.hardware.system
    ms = 1e3 / (hw.clock_mhz * 1e6)
    links = (f"a {system.topology.value} of {system.link_gbps:g} GB/s links"
             if step.level == "system" else
             f"the cores' on-chip ring ({hw.chip.noc_gbps:g} GB/s)")
    unit = "chip" if step.level == "system" else "core"
    lines = [f"data-parallel training of {step.local.step.graph.model.name}: global batch "
             f"{step.batch}, {step.local.step.optimizer.value}, {hw.dtypes.input.value} "
             f"gradients ({step.reduced_bytes:,} bytes a step), {step.algorithm.value} "
             f"all-reduce over {links}",
             f"{unit + 's':>5} {'batch/' + unit:>10} "
             f"{'step ms':>9} {'samples/s':>10} "
             f"{'compute ms':>10} {'comm ms':>9} {'exposed ms':>10} {'speedup':>7} "
             f"{'efficiency':>10}"]
    for p in points:
        s = p.step
        lines.append(f"{s.chips:>5} {s.batch // s.chips:>10} {s.cycles * ms:>9.3f} "
                     f"{s.samples_per_s:>10,.0f} {s.compute_cycles * ms:>10.3f} "
                     f"{s.communication_cycles * ms:>9.3f} {s.exposed_cycles * ms:>10.3f} "
                     f"{p.speedup:>7.3f} {p.efficiency:>10.3f}")
    lines.append(f"speedup = T(1 {unit}) / T(P {unit}s) at the same global batch (strong "
                 "scaling); efficiency = speedup / P; exposed = communication not hidden "
                 "behind the backward pass")
    return lines
