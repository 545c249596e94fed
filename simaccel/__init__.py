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
"""

from simaccel.errors import InputError, SimaccelError
from simaccel.frontends import load_model
from simaccel.frontends.hardware_toml import load_hardware
from simaccel.hardware import vary
from simaccel.pipeline import compile, simulate  # noqa: A004 - simaccel.compile(model, hw)
from simaccel.report import Report
from simaccel.sweeps import pareto_front, sweep

__all__ = ["InputError", "Report", "SimaccelError", "compile", "load_hardware", "load_model",
           "pareto_front", "simulate", "sweep", "vary"]
__version__ = "0.1.0"
