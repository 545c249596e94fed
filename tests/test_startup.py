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


def _run(code: str) -> object:
    probe = f"{code}\nimport json\nprint(json.dumps(result))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return json.loads(out)


def test_a_model_builds_the_validators_of_its_ops_only() -> None:
    """mnist_cnn has conv2d, maxpool2d, flatten and dense layers: loading it builds those
    four layer classes' validators and not the other twelve, nor the whole file's (built
    only to word a refusal)."""
    mnist = Path(__file__).resolve().parent.parent / "workloads" / "mnist_cnn.json"
    built = _run("import simaccel\nfrom simaccel.model import LAYER_CLASSES\n"
                 "from simaccel.frontends.model_json import ModelFile\n"
                 f"simaccel.load_model({str(mnist)!r})\n"
                 "result = sorted({c.__name__ for c in LAYER_CLASSES.values() "
                 "if c.__pydantic_complete__} | ({'ModelFile'} if "
                 "ModelFile.__pydantic_complete__ else set()))")
    assert built == ["Conv2d", "Dense", "Flatten", "Pool2d"]


def test_every_op_has_its_layer_class() -> None:
    from simaccel.model import LAYER_CLASSES, OPS, Conv2d, OnnxOp, Pool2d

    assert set(LAYER_CLASSES) == set(OPS)
    assert LAYER_CLASSES["conv2d"] is Conv2d
    assert LAYER_CLASSES["avgpool2d"] is LAYER_CLASSES["maxpool2d"] is Pool2d
    assert LAYER_CLASSES["move"] is OnnxOp


@pytest.mark.parametrize("workload", sorted(
    p.name for p in (Path(__file__).resolve().parent.parent / "workloads").glob("*.json")))
def test_layers_validated_one_by_one_are_the_whole_files_layers(workload: str) -> None:
    """The quick path (each layer by its op's class) gives the layers the whole file's
    validation (the ``op``-discriminated union) gives, attribute for attribute."""
    from simaccel.frontends.model_json import ModelFile, _Outline, _validate

    path = Path(__file__).resolve().parent.parent / "workloads" / workload
    data = json.loads(path.read_text())
    spec, layers = _validate(data)
    assert isinstance(spec, _Outline)
    whole = ModelFile.model_validate(data).layers
    assert [type(a) for a in layers] == [type(b) for b in whole]
    assert [a.model_dump() for a in layers] == [b.model_dump() for b in whole]


def test_a_run_that_prints_no_table_loads_no_rich(tmp_path: Path) -> None:
    """``--json --quiet`` writes the report as JSON and draws no progress bar: rich, which
    draws tables and bars, is not loaded (the table path still uses it)."""
    mnist = Path(__file__).resolve().parent.parent / "workloads" / "mnist_cnn.json"
    run = ("import contextlib, io\nfrom simaccel.cli import main\n"
           "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
           "    main(['simulate', {!r}, '--no-check', '--quiet'{}])\n"
           "assert out.getvalue()")
    assert "rich" not in _loaded_after(run.format(str(mnist), ", '--json'"))
    assert "rich" in _loaded_after(run.format(str(mnist), ""))
