"""Order does not matter: a model's layers listed in any order give a byte-identical report
(execution order and drawn weights follow the graph and the names), and the report does not
depend on how the model's path was typed."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

import simaccel
from simaccel.cli import main
from simaccel.frontends.model_json import parse_model
from simaccel.graph import build_graph

ROOT = Path(__file__).resolve().parent.parent


def _doc(name: str) -> dict:
    return json.loads((ROOT / "workloads" / name).read_text())


def _shuffled(doc: dict, seed: int) -> dict:
    out = dict(doc, layers=list(doc["layers"]))
    random.Random(seed).shuffle(out["layers"])
    out.pop("outputs", None)  # the default outputs must not follow the listing either
    return out


@pytest.mark.parametrize(("workload", "hw"), [("mnist_cnn.json", "gemmini"),
                                              ("resnet18.json", "scalesim_default")])
def test_any_listing_order_gives_a_byte_identical_report(workload: str, hw: str) -> None:
    doc = _doc(workload)
    doc.pop("outputs", None)
    check = workload == "mnist_cnn.json"  # numerics too: drawn weights follow the names
    reports = {simaccel.simulate(parse_model(d, source=workload), simaccel.load_hardware(hw),
                                 check=check).to_json()
               for d in (doc, _shuffled(doc, 1), _shuffled(doc, 2),
                         dict(doc, layers=doc["layers"][::-1]))}
    assert len(reports) == 1


def test_execution_order_runs_a_chain_on_then_its_siblings() -> None:
    """x feeds a (→ a2 → a3) and b; after a the chain a2, a3 runs on, then b, then the sum;
    independent layers go by name in natural order (c2 before c10)."""
    layers = [
        {"name": "sum", "op": "add", "inputs": ["a3", "b"]},
        {"name": "b", "op": "relu", "inputs": ["x"]},
        {"name": "a3", "op": "relu", "inputs": ["a2"]},
        {"name": "a2", "op": "relu", "inputs": ["a"]},
        {"name": "a", "op": "relu", "inputs": ["x"]},
        {"name": "c10", "op": "relu", "inputs": ["y"]},
        {"name": "c2", "op": "relu", "inputs": ["y"]},
    ]
    doc = {"format": "simaccel-model/1", "name": "t", "layers": layers,
           "inputs": [{"name": "x", "shape": [1, 4]}, {"name": "y", "shape": [1, 4]}]}
    graph = build_graph(parse_model(doc))
    assert graph.order == ("a", "a2", "a3", "b", "sum", "c2", "c10")
    assert graph.model.outputs == ("c2", "c10", "sum")  # natural name order


def test_drawn_weights_follow_the_layer_name() -> None:
    from simaccel.numerics.weights import model_params

    doc = _doc("mnist_cnn.json")
    first = model_params(build_graph(parse_model(doc)))
    again = model_params(build_graph(parse_model(_shuffled(doc, 3))))
    assert first.keys() == again.keys()
    for layer, params in first.items():
        for key, value in params.items():
            assert (value == again[layer][key]).all()


def test_model_source_does_not_depend_on_how_the_path_was_typed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sub" / "m.json"
    path.parent.mkdir()
    path.write_text((ROOT / "workloads" / "mnist_cnn.json").read_text())
    monkeypatch.chdir(tmp_path)
    outputs = []
    for typed in ("sub/m.json", "./sub/m.json", str(path), "sub/../sub/m.json",
                  os.path.relpath(path, tmp_path / "sub")):
        if typed.startswith("m.json"):
            monkeypatch.chdir(tmp_path / "sub")
        assert main(["simulate", typed, "--json", "--no-check"]) == 0
        outputs.append(capsys.readouterr().out)
    assert len(set(outputs)) == 1
    assert json.loads(outputs[0])["model"]["source"] == "m.json"
