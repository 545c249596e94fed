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

The names are imported on first use (PEP 562), so ``import simaccel`` (and the CLI's start)
does not pay for numpy, pydantic, networkx or simpy until a command needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from simaccel.errors import InputError, SimaccelError

if TYPE_CHECKING:
    from simaccel.frontends import load_model
    from simaccel.frontends.hardware_toml import load_hardware
    from simaccel.hardware import vary
    from simaccel.pipeline import compile, simulate  # noqa: A004 - simaccel.compile(model, hw)
    from simaccel.report import Report
    from simaccel.sweeps import pareto_front, sweep
    from simaccel.training_run import simulate_step

#: Public name -> the module that defines it (imported when the name is first read).
_LAZY = {"load_model": "simaccel.frontends", "load_hardware": "simaccel.frontends.hardware_toml",
         "vary": "simaccel.hardware", "simulate": "simaccel.pipeline",
         "compile": "simaccel.pipeline",
         "Report": "simaccel.report", "pareto_front": "simaccel.sweeps",
         "sweep": "simaccel.sweeps", "simulate_step": "simaccel.training_run"}

__all__ = ["InputError", "Report", "SimaccelError", "compile", "load_hardware", "load_model",
           "pareto_front", "simulate", "simulate_step", "sweep", "vary"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """A public name from its module, or a submodule (``simaccel.sweeps``), on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
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
    return sorted({*globals(), *_LAZY})
