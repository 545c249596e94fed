"""simaccel: a cycle-approximate simulator of TPU-style AI accelerators.

The public API::

    import simaccel
    model = simaccel.load_model("workloads/resnet18.json")
    hw = simaccel.load_hardware("tpu_v1")          # a shipped name or a .toml/.cfg path
    report = simaccel.simulate(model, hw)
    report.to_dict()["total"]["cycles"]
    report.write("out/")
    program = simaccel.compile(model, hw)           # the Program: per-unit instruction queues
    print(program.listing(0, 2))

    fast = simaccel.vary(hw, {"dram.bandwidth_gbps": 60})      # a validated variant
    frame = simaccel.sweep("sweep.toml")             # design points x workloads, pandas
    simaccel.pareto_front(frame, ["latency_s", "energy_pj", "area_mm2"])

    simaccel.collective("all_reduce", 1 << 24, "tpu_v4_like_x8").cycles   # as the CLI verbs
    simaccel.simulate_llm("llama2-7b", "tpu_v4_like_x8", "tensor", batch=16)
    simaccel.partition_model(model, "tpu_v4_like_x8", "pipeline", batch=64)
    simaccel.simulate_step(model, hw, "adam", batch=8, precision="bf16")

Everything public is in ``__all__`` and ``PUBLIC_MODULES`` (``teaching``, ``plots``,
``grading``, ``quant``); docs/teaching.md, "What students may use", lists it. Other
submodules are internal.

The names are imported on first use (PEP 562), so ``import simaccel`` (and the CLI's start)
does not pay for numpy, pydantic, networkx or simpy until a command needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from simaccel.errors import InputError, SimaccelError

if TYPE_CHECKING:
    from simaccel.api_core import pareto_front, vary
    from simaccel.api_models import (
        AREA_PRESETS,
        DATAFLOW_MAPPING,
        ENERGY_PRESETS,
        design_points,
        energy_table,
        estimate_area,
        fold_cycles,
        lower,
        prune,
        with_batch,
    )
    from simaccel.api_systems import (
        PartitionRun,
        collective,
        interconnect,
        llm_footprint,
        load_llm,
        partition_model,
        simulate_llm,
    )
    from simaccel.api_training import (
        data_parallel_scaling,
        simulate_step,
        train,
        training_step,
        with_precision,
    )
    from simaccel.domain import Dataflow, DType
    from simaccel.frontends import load_model
    from simaccel.frontends.hardware_toml import load_hardware
    from simaccel.pipeline import compile, simulate  # noqa: A004 - simaccel.compile(model, hw)
    from simaccel.report import Report
    from simaccel.sweeps import sweep

#: Public name -> the module that defines it (imported when the name is first read).
_LAZY = {"load_model": "simaccel.frontends", "load_hardware": "simaccel.frontends.hardware_toml",
         "vary": "simaccel.api_core", "simulate": "simaccel.pipeline",
         "compile": "simaccel.pipeline",
         "Report": "simaccel.report", "pareto_front": "simaccel.api_core",
         "sweep": "simaccel.sweeps", "simulate_step": "simaccel.api_training"}
#: The rest of the public API (docs/teaching.md, "What students may use"): name -> module.
_LAZY.update({name: "simaccel.domain" for name in ("Dataflow", "DType")})
_LAZY.update({name: "simaccel.api_models" for name in (
    "AREA_PRESETS", "DATAFLOW_MAPPING", "ENERGY_PRESETS", "design_points", "energy_table",
    "estimate_area", "fold_cycles", "lower", "prune", "with_batch")})
_LAZY.update({name: "simaccel.api_systems" for name in (
    "PartitionRun", "collective", "interconnect", "llm_footprint", "load_llm",
    "partition_model", "simulate_llm")})
_LAZY.update({name: "simaccel.api_training" for name in (
    "data_parallel_scaling", "train", "training_step", "with_precision")})
#: Public modules: the lab helpers, the plots, the graders, and quantization (under a short
#: name). Every other submodule is internal: reachable, but not an interface.
PUBLIC_MODULES = {"teaching": "simaccel.teaching", "plots": "simaccel.plots",
                  "grading": "simaccel.grading", "quant": "simaccel.numerics.quant"}

__all__ = ["AREA_PRESETS", "DATAFLOW_MAPPING", "DType", "Dataflow", "ENERGY_PRESETS",
           "InputError", "PartitionRun", "Report", "SimaccelError", "collective", "compile",
           "data_parallel_scaling", "design_points", "energy_table", "estimate_area",
           "fold_cycles", "interconnect", "llm_footprint", "load_hardware", "load_llm",
           "load_model", "lower", "pareto_front", "partition_model", "prune", "simulate",
           "simulate_llm", "simulate_step", "sweep", "train", "training_step", "vary",
           "with_batch", "with_precision"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """A public name from its module, or a submodule (``simaccel.sweeps``), on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in PUBLIC_MODULES:
        value = importlib.import_module(PUBLIC_MODULES[name])
    else:
        try:
            value = importlib.import_module(f"simaccel.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"simaccel.{name}":
                raise
            raise AttributeError(f"module 'simaccel' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *PUBLIC_MODULES})
