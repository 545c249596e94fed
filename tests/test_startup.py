"""Start-up: importing the CLI (and ``simaccel`` itself) loads none of the heavy libraries;
each is imported by the stage that uses it, when it runs. Wall time is measured in
benchmarks/bench.py, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("numpy", "pydantic", "networkx", "simpy", "rich", "matplotlib", "pandas", "dask",
         "distributed", "onnx", "pyarrow")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return {name.split(".")[0] for name in json.loads(out)}


@pytest.mark.parametrize("code", ["import simaccel.cli", "import simaccel",
                                  "from simaccel.cli import main; main.__doc__"])
def test_importing_loads_no_heavy_library(code: str) -> None:
    assert _loaded_after(code).isdisjoint(HEAVY)


def test_simulating_loads_only_what_it_uses() -> None:
    """A whole simulation (numerics included) needs numpy, pydantic and simpy, and neither
    networkx nor the plotting, table, sweep or ONNX libraries."""
    mnist = Path(__file__).resolve().parent.parent / "workloads" / "mnist_cnn.json"
    loaded = _loaded_after(f"import simaccel\nsimaccel.simulate(simaccel.load_model("
                           f"{str(mnist)!r}), simaccel.load_hardware(), check=True)")
    assert {"numpy", "pydantic", "simpy"} <= loaded
    assert loaded.isdisjoint({"networkx", "matplotlib", "pandas", "dask", "distributed",
                              "onnx", "pyarrow", "rich"})


def test_public_names_still_resolve() -> None:
    import simaccel

    assert simaccel.simulate.__module__ == "simaccel.pipeline"
    assert simaccel.Report.__name__ == "Report"
    assert {"load_model", "sweep", "pareto_front"} <= set(dir(simaccel))
    assert simaccel.sweeps.sweep is simaccel.sweep  # a submodule by attribute, as before
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        simaccel.nope  # noqa: B018
