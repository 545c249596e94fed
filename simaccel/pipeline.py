"""The pipeline, one stage per line: model → graph → kernels → schedule → engine → results,
with the numerics a separate consumer of the schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simaccel import engine
from simaccel.energy import estimate
from simaccel.errors import InputError
from simaccel.graph import Graph, build_graph
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel, VectorKernel
from simaccel.lowering import lower
from simaccel.mapping import compile_program
from simaccel.model import Model
from simaccel.numerics.outcome import Check
from simaccel.program import Program
from simaccel.report import Report
from simaccel.results import collect
from simaccel.schedule import Schedule, Traffic, build_schedule

#: Models up to this many MACs are checked numerically unless told otherwise: ResNet-18
#: (1.8 G) is, ResNet-50 (4.1 G) is not.
CHECK_BY_DEFAULT_MAX_MACS = 2_000_000_000
#: ... and only when the check's working memory (`numerics_bytes`) fits in this many bytes
#: (1 GiB): ResNet-18 needs about 0.45 GiB; a batch-1 dense layer of 2^28 weights 6 GiB.
CHECK_BY_DEFAULT_MAX_BYTES = 1 << 30


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


def compile(model: Model, hw: Hardware, exact: bool = False  # noqa: A001 - the public name
            ) -> Program:
    """The `Program` that ``model`` compiles to on ``hw`` (see docs/architecture.md), as the
    engine times it: long loops' steady states as ``skip`` instructions, or with ``exact``
    every tile (what the numerics execute). ``model`` and ``hw`` may also be a model file
    path and a shipped config name or path. Raises `InputError` naming ``model``, ``hw`` or
    ``exact``."""
    if not (isinstance(model, Model) and isinstance(hw, Hardware) and isinstance(exact, bool)):
        model, hw = _checked("simaccel.compile", model, hw, exact=exact)
    prepared = prepare(model)
    schedule = build_schedule(prepared.kernels, hw, exact=exact)
    return map_and_time(schedule, prepared.graph)[0]


def map_and_time(schedule: Schedule, graph: Graph, trace: bool = True
                 ) -> tuple[Program, tuple[Traffic, ...], engine.EngineResult]:
    """Compile ``schedule`` for ``graph``'s inputs and outputs and run it (`time_mappings`)."""
    return time_mappings(schedule, input_elements(graph), graph.model.outputs, trace)


def time_mappings(schedule: Schedule, inputs: Mapping[str, int], outputs: Sequence[str],
                  trace: bool = True
                  ) -> tuple[Program, tuple[Traffic, ...], engine.EngineResult]:
    """Compile ``schedule`` and run it. On a chip of several cores two mappings are timed —
    kernels spread over the cores, and all on one core (spreading costs DRAM traffic where a
    tensor crosses cores and the channel is shared) — and the faster is kept, so more cores
    never make a model slower. Fast-forward (docs/architecture.md, "Fast-forward") is
    trusted where a kernel ran alone: a Program whose kernels run on several cores is timed
    tile by tile, and a kernel whose skip ran beside another kernel's work is timed again
    with every tile listed."""
    candidates = [True, False] if schedule.hardware.chip.cores > 1 else [True]
    kernels = tuple(w.kernel for w in schedule.layers)
    best = None
    for spread in candidates:
        program, traffic = compile_program(schedule, inputs, outputs, spread=spread)
        if schedule.fast_forwarded and len(set(program.kernel_cores)) > 1:
            exact = build_schedule(kernels, schedule.hardware, exact=True)
            program, traffic = compile_program(exact, inputs, outputs, spread=spread)
        timed = engine.run(program, trace=trace)
        if timed.contended:
            again = build_schedule(kernels, schedule.hardware,
                                   exact_kernels=frozenset(timed.contended))
            program, traffic = compile_program(again, inputs, outputs, spread=spread)
            timed = engine.run(program, trace=trace)
        if best is None or timed.cycles < best[2].cycles:
            best = (program, traffic, timed)
    assert best is not None
    return best


def simulate(model: Model, hw: Hardware, check: bool | None = None,
             inputs: Mapping[str, np.ndarray] | None = None,
             progress: Progress | None = None, exact: bool = False) -> Report:
    """Simulate ``model`` on ``hw`` and return the `Report` (cycles, bytes, MACs, checks).

    ``check`` runs the tiled schedule numerically and checks every kernel (None: only when
    `check_by_default`); ``inputs`` are the model's input tensors (real arrays of each
    input's declared shape, by input name; checked by `checked_inputs`), drawn from the
    model's seed when not given. ``progress`` is
    called as (stage, done, total) while the run advances. ``exact`` times every tile
    instead of fast-forwarding the steady state of long loops (docs/architecture.md,
    "Fast-forward": the two agree within 0.5% on the shipped workloads). ``model`` and ``hw``
    may also be a model file path and a shipped config name or path. Raises `InputError`
    naming ``model``, ``hw``, ``check``, ``inputs``, ``progress`` or ``exact``.
    """
    if not (isinstance(model, Model) and isinstance(hw, Hardware)
            and isinstance(check, bool | None) and isinstance(exact, bool)
            and (progress is None or callable(progress))):
        model, hw = _checked("simaccel.simulate", model, hw, check=check, exact=exact,
                             progress=progress)
    return run(prepare(model), hw, check=check, inputs=inputs, progress=progress,
               exact=exact)


def _checked(where: str, model: object, hw: object, **options: object
             ) -> tuple[Model, Hardware]:
    """The public entries' arguments checked in signature order (`simaccel.api_args`): the
    model and hardware loaded from a path or name, each bool option a bool (``check`` may
    be None) and ``progress`` callable or None."""
    from simaccel import api_args

    loaded = api_args.model(model, where), api_args.hardware(hw, where)
    for field, value in options.items():
        if field == "progress":
            if value is not None and not callable(value):
                raise InputError(where, field, f"expected a function (stage, done, total) "
                                 f"or None, got {type(value).__name__}")
        elif not (value is None and field == "check"):
            api_args.flag(value, where, field)
    return loaded


def run(prepared: Prepared, hw: Hardware, check: bool | None = None,
        inputs: Mapping[str, np.ndarray] | None = None,
        progress: Progress | None = None, trace: bool = True, exact: bool = False) -> Report:
    """The hardware-dependent stages of `simulate` on a `prepare`d model; ``trace=False``
    keeps no per-instruction trace (sweeps read only the figures); ``exact``: no
    fast-forward."""
    tell = progress or (lambda stage, done, total: None)
    graph, kernels = prepared.graph, prepared.kernels
    if inputs is not None:
        inputs = checked_inputs(graph, inputs)
    tell("tiling", 0, 1)
    schedule = build_schedule(kernels, hw, exact=exact)
    tell("simulating", 0, 1)
    program, traffic, timed = map_and_time(schedule, graph, trace)
    tell("simulating", 1, 1)
    if check is None:
        check = check_by_default(graph, kernels)
    if any(layer.op == "opaque" for layer in graph.model.layers):
        check = False  # an op simaccel does not model has no numerics
    numerics = _numerics(graph, schedule, program, inputs, tell) if check else None
    checks = numerics.checks if numerics else tuple(
        Check(status="skipped", dtype=hw.dtypes.input.value) for _ in kernels)
    results = collect(schedule, program, traffic, timed, checks)
    energy = estimate(results, hw)
    return Report(graph=graph, hardware=hw, results=results, energy=energy, numerics=numerics)


def numerics_bytes(graph: Graph, kernels: tuple[Kernel, ...]) -> int:
    """Working memory of the numerics check, in bytes, estimated from what it holds (all in
    float64, 8 bytes): every tensor of the model twice (the float model's and the
    accelerator's), the weights three times (drawn, folded, quantized), and the larger of
    two working sets: the largest GEMM's im2col operand and accumulators twice, with the
    convolution windows the two helper threads copy out at the same time (each at most
    `reference.WINDOW_ELEMENTS`); or the largest vector kernel's check, its inputs
    dequantized and four arrays of its output (expected, quantized, dequantized, the gap).
    Measured (tracemalloc) on a concat of eight 448×448×16 tensors: 1.46 GiB at the peak
    against 1.77 GiB estimated."""
    from simaccel.numerics.reference import WINDOW_ELEMENTS

    gemms = [k for k in kernels if isinstance(k, GemmKernel)]
    weights = sum(k.filter_elements for k in gemms if not k.filter_is_activation)
    activations = sum(math.prod(shape) for shape in graph.shapes.values())
    largest = max((k.groups * k.m * (k.k + k.n) for k in gemms), default=0)
    windows = max((min(k.groups * k.m * k.k, WINDOW_ELEMENTS) for k in gemms
                   if k.op == "conv2d"), default=0)
    vector = max((k.input_elements + 4 * k.elements for k in kernels
                  if isinstance(k, VectorKernel)), default=0)
    return 8 * (3 * weights + 2 * activations + max(2 * largest + 2 * windows, vector))


def _compile(schedule: Schedule, graph: Graph, timed: Program) -> Program:
    """``schedule``'s Program with the same choice of cores as ``timed`` (which kept every
    kernel on core 0 unless spreading them was faster)."""
    return compile_program(schedule, input_elements(graph), graph.model.outputs,
                           spread=len(set(timed.kernel_cores)) > 1)[0]


def check_by_default(graph: Graph, kernels: tuple[Kernel, ...]) -> bool:
    """Whether the numerics run when the user does not say: up to
    `CHECK_BY_DEFAULT_MAX_MACS` MACs and `CHECK_BY_DEFAULT_MAX_BYTES` of working memory."""
    return (sum(k.macs for k in kernels) <= CHECK_BY_DEFAULT_MAX_MACS
            and numerics_bytes(graph, kernels) <= CHECK_BY_DEFAULT_MAX_BYTES)


def checked_inputs(graph: Graph, inputs: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The ``inputs`` given to `simulate`, checked against the model's: every input by name,
    each an array of real numbers of exactly its declared shape (NHWC, batch first), finite,
    neither above fp32's range nor subnormal (`simaccel.input_arrays`). Raises `InputError`
    naming the input and what is wrong."""
    from simaccel.input_arrays import array_problem

    where = "simulate(inputs=...)"
    if not isinstance(inputs, Mapping):
        raise InputError(where, "", f"expected a mapping of input name to array, got "
                         f"{type(inputs).__name__}")
    specs = {spec.name: spec for spec in graph.model.inputs}
    for name in inputs:
        if name not in specs:
            raise InputError(where, repr(name) if isinstance(name, str) else str(name),
                             f"the model has no input of that name; its inputs: "
                             f"{', '.join(map(repr, specs))}")
    out = {}
    for name, spec in specs.items():
        if name not in inputs:
            raise InputError(where, repr(name), f"missing: give an array of shape "
                             f"{list(spec.shape)}")
        try:
            value = np.asarray(inputs[name])
        except (TypeError, ValueError) as exc:
            raise InputError(where, repr(name), f"not an array: {exc}") from None
        if value.dtype.kind not in "biuf":
            raise InputError(where, repr(name), f"dtype {value.dtype} is not real numbers")
        if value.shape != tuple(spec.shape):
            raise InputError(where, repr(name), f"shape {list(value.shape)} is not the "
                             f"declared {list(spec.shape)} (NHWC, batch first: transpose or "
                             "reshape it)")
        if (problem := array_problem(value)) is not None:
            raise InputError(where, repr(name), problem)
        out[name] = value.astype(np.float64)
    return out


def _numerics(graph, schedule, program, inputs, tell: Progress):
    from simaccel.numerics import check, weights

    data = dict(inputs) if inputs is not None else weights.input_tensors(graph)
    with check.Helpers() as helpers:  # draws and the fp model run ahead on a helper thread
        fp = check.FpModel(graph, weights.layer_params(graph, graph.model.weights),
                           weights.param_layers(graph), data, helpers)
        if schedule.fast_forwarded:  # the numerics execute every tile: the exact Program
            schedule = build_schedule(tuple(w.kernel for w in schedule.layers),
                                      schedule.hardware, exact=True)
            program = _compile(schedule, graph, program)
        total = len(schedule.layers)
        return check.run(graph, schedule, program, fp.params, data,
                         on_kernel=lambda done: tell("checking numerics", done, total),
                         fp=fp, helpers=helpers)
