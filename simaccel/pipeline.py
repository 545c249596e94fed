"""The pipeline, one stage per line: model → graph → kernels → schedule → engine → results,
with the numerics a separate consumer of the schedule."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from simaccel import engine
from simaccel.energy import estimate
from simaccel.graph import Graph, build_graph
from simaccel.hardware import Hardware
from simaccel.kernels import Kernel
from simaccel.lowering import lower
from simaccel.mapping import compile_program
from simaccel.model import Model
from simaccel.numerics.outcome import Check
from simaccel.program import Program
from simaccel.report import Report
from simaccel.results import collect
from simaccel.schedule import build_schedule

#: Models up to this many MACs are checked numerically unless told otherwise: ResNet-18
#: (1.8 G) is, ResNet-50 (4.1 G) is not.
CHECK_BY_DEFAULT_MAX_MACS = 2_000_000_000


Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Prepared:
    """What does not depend on the hardware: the shaped graph and its kernels. Sweeps make
    it once per workload and run it on every design point."""

    graph: Graph
    kernels: tuple[Kernel, ...]


def prepare(model: Model) -> Prepared:
    """Build the graph and lower it to kernels."""
    graph = build_graph(model)
    return Prepared(graph=graph, kernels=lower(graph))


def input_elements(graph: Graph) -> dict[str, int]:
    """Elements of each model input."""
    return {t.name: int(np.prod(t.shape)) for t in graph.model.inputs}


def compile(model: Model, hw: Hardware) -> Program:  # noqa: A001 - the public name
    """The `Program` that ``model`` compiles to on ``hw`` (see docs/architecture.md)."""
    prepared = prepare(model)
    schedule = build_schedule(prepared.kernels, hw)
    return compile_program(schedule, input_elements(prepared.graph),
                           prepared.graph.model.outputs)[0]


def simulate(model: Model, hw: Hardware, check: bool | None = None,
             inputs: Mapping[str, np.ndarray] | None = None,
             progress: Progress | None = None) -> Report:
    """Simulate ``model`` on ``hw`` and return the `Report` (cycles, bytes, MACs, checks).

    ``check`` runs the tiled schedule numerically and checks every kernel (None: only for
    models up to `CHECK_BY_DEFAULT_MAX_MACS`); ``inputs`` are the model's input tensors
    (float, by input name), drawn from the model's seed when not given. ``progress`` is
    called as (stage, done, total) while the run advances.
    """
    return run(prepare(model), hw, check=check, inputs=inputs, progress=progress)


def run(prepared: Prepared, hw: Hardware, check: bool | None = None,
        inputs: Mapping[str, np.ndarray] | None = None,
        progress: Progress | None = None) -> Report:
    """The hardware-dependent stages of `simulate` on a `prepare`d model."""
    tell = progress or (lambda stage, done, total: None)
    graph, kernels = prepared.graph, prepared.kernels
    tell("tiling", 0, 1)
    schedule = build_schedule(kernels, hw)
    program, traffic = compile_program(schedule, input_elements(graph), graph.model.outputs)
    tell("simulating", 0, 1)
    trace = engine.run(program)
    tell("simulating", 1, 1)
    if check is None:
        check = sum(k.macs for k in kernels) <= CHECK_BY_DEFAULT_MAX_MACS
    if any(layer.op == "opaque" for layer in graph.model.layers):
        check = False  # an op simaccel does not model has no numerics
    numerics = _numerics(graph, schedule, program, inputs, tell) if check else None
    checks = numerics.checks if numerics else tuple(
        Check(status="skipped", dtype=hw.dtypes.input.value) for _ in kernels)
    results = collect(schedule, program, traffic, trace, checks)
    energy = estimate(results, hw)
    return Report(graph=graph, hardware=hw, results=results, energy=energy, numerics=numerics)


def _numerics(graph, schedule, program, inputs, tell: Progress):
    from simaccel.numerics import check, weights

    params = weights.model_params(graph, graph.model.weights)
    data = dict(inputs) if inputs is not None else weights.input_tensors(graph)
    total = len(schedule.layers)
    return check.run(graph, schedule, program, params, data,
                     on_kernel=lambda done: tell("checking numerics", done, total))
