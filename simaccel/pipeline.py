"""The pipeline, one stage per line: model → graph → kernels → schedule → engine → results."""

from __future__ import annotations

from simaccel import engine
from simaccel.graph import build_graph
from simaccel.hardware import Hardware
from simaccel.lowering import lower
from simaccel.model import Model
from simaccel.report import Report
from simaccel.results import Check, collect
from simaccel.schedule import build_schedule


def simulate(model: Model, hw: Hardware, check: bool = True) -> Report:
    """Simulate ``model`` on ``hw`` and return the `Report` (cycles, bytes, MACs).

    ``check`` asks for the numerics check; until numerics are modelled every kernel's check
    is reported as skipped.
    """
    graph = build_graph(model)
    kernels = lower(graph)
    schedule = build_schedule(kernels, hw)
    trace = engine.run(schedule)
    checks = tuple(Check(status="skipped", dtype=hw.dtypes.input.value) for _ in kernels)
    results = collect(schedule, trace, checks)
    return Report(graph=graph, hardware=hw, results=results)
