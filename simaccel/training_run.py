"""One training step through the pipeline: model → graph → `training_step` kernels →
Schedule → Program → engine → Results → energy → Report, plus what a step adds to an
inference report: forward and backward per layer, the stashed activations and the peak of
live activation bytes against the chip's memory (docs/architecture.md, "Training")."""

from __future__ import annotations

from dataclasses import dataclass, replace

from simaccel.backward import training_step
from simaccel.domain import DType
from simaccel.energy import estimate
from simaccel.errors import InputError
from simaccel.graph import build_graph
from simaccel.hardware import Hardware, vary
from simaccel.kernels import Kernel, VectorKernel
from simaccel.model import Model, Reshape
from simaccel.numerics.outcome import Check
from simaccel.pipeline import time_mappings
from simaccel.program import Program
from simaccel.report import Report
from simaccel.residency import is_alias
from simaccel.results import collect
from simaccel.schedule import build_schedule
from simaccel.training import Optimizer, TrainingError, TrainingStep

#: --precision choices: (activation/weight type, accumulator type); mixed precision keeps
#: fp32 accumulators and master weights (Micikevicius et al., ICLR 2018).
PRECISIONS = {"bf16": DType.BF16, "fp16": DType.FP16, "fp32": DType.FP32}


@dataclass(frozen=True)
class LayerSplit:
    """One model layer's share of a step: cycles (its kernels' windows), MACs and energy
    (pJ) of its forward kernels and of its backward (loss gradient and update included)."""

    layer: str
    forward_cycles: int
    backward_cycles: int
    forward_macs: int
    backward_macs: int
    forward_energy_pj: float
    backward_energy_pj: float


@dataclass(frozen=True)
class TrainingReport:
    """A simulated training step: the `Report` of its kernels, the `TrainingStep` they came
    from, per-layer forward/backward splits, the stash (bytes of forward activations the
    backward reads; how many of them stayed on chip) and the peak of live activation bytes
    (`peak_activation_bytes`) against the chip's on-chip bytes."""

    report: Report
    step: TrainingStep
    layers: tuple[LayerSplit, ...]
    stashed_bytes: int
    stashed_resident_bytes: int
    peak_activation_bytes: int
    on_chip_bytes: int
    parameter_count: int

    def to_dict(self) -> dict:
        """The step's figures as JSON types: the report's, plus ``training``."""
        data = self.report.to_dict()
        data["training"] = {
            "optimizer": self.step.optimizer.value, "recompute": self.step.recompute,
            "batch": self.step.graph.model.inputs[0].shape[0],
            "macs": self.step.macs, "parameters": self.parameter_count,
            "stashed_bytes": self.stashed_bytes,
            "stashed_resident_bytes": self.stashed_resident_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "on_chip_bytes": self.on_chip_bytes,
            "layers": [vars(split) for split in self.layers]}
        return data


def with_batch(model: Model, batch: int | None) -> Model:
    """``model`` with every input's first (batch) dimension set to ``batch`` (None: as is),
    and every reshape whose first dimension was that batch reshaped to the new one."""
    if batch is None:
        return model
    old = model.inputs[0].shape[0]
    inputs = tuple(spec.model_copy(update={"shape": (batch, *spec.shape[1:])})
                   for spec in model.inputs)
    layers = tuple(layer.model_copy(update={"shape": (batch, *layer.shape[1:])})
                   if isinstance(layer, Reshape) and layer.shape[0] == old else layer
                   for layer in model.layers)
    return replace(model, inputs=inputs, layers=layers)


def training_hardware(hw: Hardware, precision: str | None) -> Hardware:
    """``hw`` with ``precision`` operands (bf16, fp16, fp32) and fp32 accumulators; None
    keeps the config's types, which must be float types: integer types do not train (bad
    input naming ``dtypes.input``)."""
    if precision is not None:
        return vary(hw, {"dtypes.input": PRECISIONS[precision].value,
                         "dtypes.weight": PRECISIONS[precision].value,
                         "dtypes.accumulator": DType.FP32.value})
    if hw.dtypes.input.is_integer:
        raise InputError(*hw.where("dtypes.input"), f"{hw.dtypes.input.value} operands do not "
                         "train (gradients need a float type): pass --precision bf16, fp16 "
                         "or fp32")
    return hw


def build_step(model: Model, hw: Hardware, optimizer: Optimizer, recompute: bool = False
               ) -> TrainingStep:
    """The `TrainingStep` of ``model`` for ``hw``'s types; an op without a backward is bad
    input naming the layer."""
    graph = build_graph(model)
    try:
        return training_step(graph, optimizer, (hw.dtypes.input, hw.dtypes.weight), recompute)
    except TrainingError as exc:
        index = model.layer_index(exc.layer) if any(
            layer.name == exc.layer for layer in model.layers) else None
        field = f"layers[{index}]" if index is not None else "outputs"
        raise InputError(model.source, field, exc.message) from None


def compile_step(step: TrainingStep, hw: Hardware, trace: bool = False, exact: bool = False):
    """Schedule, compile and time ``step`` on ``hw``: (schedule, program, traffic, timed);
    on several cores the spread and the one-core mappings are timed and the faster kept
    (`simaccel.pipeline.time_mappings`); ``exact``: every tile listed (the numerics execute
    the Program). Master weights and optimizer state live in DRAM: read by the update,
    written back."""
    schedule = build_schedule(step.kernels, hw, exact=exact)
    outputs = tuple(op.writes for op in step.ops if op.phase == "update") + tuple(step.states)
    program, traffic, timed = time_mappings(schedule, step.input_elements(), outputs, trace)
    return schedule, program, traffic, timed


def simulate_step(model: Model, hw: Hardware, optimizer: Optimizer | str = Optimizer.SGD,
                  batch: int | None = None, recompute: bool = False,
                  trace: bool = True, precision: str | None = None) -> TrainingReport:
    """Simulate one training step of ``model`` (batch ``batch``, default the model's) on
    ``hw`` with ``optimizer`` (sgd, momentum, adam) in ``hw``'s types, or ``precision``'s
    (bf16, fp16, fp32; see `training_hardware`: integer types raise `InputError`)."""
    hw = training_hardware(hw, precision)
    return time_step(build_step(with_batch(model, batch), hw, Optimizer(optimizer), recompute),
                     hw, trace)


def time_step(step: TrainingStep, hw: Hardware, trace: bool = True) -> TrainingReport:
    """Time a built ``step`` on ``hw`` (already in the training types): its report."""
    schedule, program, traffic, timed = compile_step(step, hw, trace)
    checks = tuple(Check(status="skipped", dtype=hw.dtypes.input.value) for _ in step.kernels)
    results = collect(schedule, program, traffic, timed, checks)
    energy = estimate(results, hw)
    report = Report(graph=step.graph, hardware=hw, results=results, energy=energy)
    return _summarise(report, step, program)


def step_cost(step: TrainingStep, hw: Hardware) -> tuple[Program, int, float]:
    """(Program, cycles, energy in pJ) of one step of ``step`` on ``hw``; the Program lists
    every tile, for the numerics to execute."""
    schedule, program, traffic, timed = compile_step(step, hw, exact=True)
    checks = tuple(Check(status="skipped", dtype=hw.dtypes.input.value) for _ in step.kernels)
    results = collect(schedule, program, traffic, timed, checks)
    return program, results.total.cycles, estimate(results, hw).total.total


def _summarise(report: Report, step: TrainingStep, program: Program) -> TrainingReport:
    hw = report.hardware
    act = hw.dtypes.input.bytes
    placed = {p.tensor: p for p in program.placements}
    stash = [placed[t] for t in step.stashed if t in placed]
    return TrainingReport(
        report=report, step=step, layers=_splits(report, step),
        stashed_bytes=sum(p.bytes for p in stash),
        stashed_resident_bytes=sum(p.bytes for p in stash if p.resident),
        peak_activation_bytes=peak_activation_bytes(step, act),
        on_chip_bytes=sum(m.size_bytes for m in hw.memory_list) * hw.chip.cores,
        parameter_count=sum(step.parameters.values()))


def _splits(report: Report, step: TrainingStep) -> tuple[LayerSplit, ...]:
    rows = zip(step.ops, report.results.layers, report.energy.layers, strict=True)
    sums: dict[str, list] = {name: [0, 0, 0, 0, 0.0, 0.0] for name in step.graph.order}
    for op, result, energy in rows:
        side = 0 if op.phase == "forward" else 1
        entry = sums.setdefault(op.layer, [0, 0, 0, 0, 0.0, 0.0])
        entry[side] += result.cycles
        entry[2 + side] += result.macs
        entry[4 + side] += energy.total
    return tuple(LayerSplit(name, *values) for name, values in sums.items())


def peak_activation_bytes(step: TrainingStep, act_bytes: int) -> int:
    """The most bytes of activations and gradients live at once over the step (each tensor
    from its producer to its last reader; model inputs and labels from the start; views
    share their source's bytes), in the activation type. Parameters and optimizer state
    are not included."""
    last: dict[str, int] = {}
    for i, op in enumerate(step.ops):
        for tensor in op.reads:
            last[tensor] = i
    live = {t: n for t, n in step.input_elements().items() if t not in step.states}
    peak = sum(live.values())
    for i, (kernel, op) in enumerate(zip(step.kernels, step.ops, strict=True)):
        if op.phase != "update" and not is_alias(kernel):
            live[op.writes] = _elements(kernel)
        peak = max(peak, sum(live.values()))
        for tensor in [t for t in live if last.get(t, -1) <= i]:
            del live[tensor]
    return peak * act_bytes


def _elements(kernel: Kernel) -> int:
    return kernel.elements if isinstance(kernel, VectorKernel) else kernel.ofmap_elements
