"""One definition of an inference: `simaccel simulate` counts the model's input batch
(docs/report.md), and so do `simaccel.partition_model` and the sweeps'
``parallel_inferences_per_s``, whose ``batch`` counts runs of the model (found by a tester:
a model of input batch 4 showed 336,296 inferences/s in ``simulate`` and 84,074 in the
same sweep row's parallel column for the same 11.89 µs run)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

import simaccel
from simaccel.sweep_parallel import partition_row

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"


@cache
def _model():
    """MNIST's CNN with input batch 4 (the tester's mnist_b4.json)."""
    from simaccel.frontends.model_json import parse_model

    data = json.loads((WORKLOADS / "mnist_cnn.json").read_text())
    data["inputs"][0]["shape"][0] = 4
    return parse_model(data, "mnist_b4.json")


@cache
def _report(chips: int):
    """`_model` simulated on one TPU-v4-like chip of a system of ``chips``."""
    hw = simaccel.vary(simaccel.load_hardware("tpu_v4_like_x8"), {"system.chips": chips})
    return simaccel.simulate(_model(), hw, check=False)


def _simulate_rate(report) -> float:
    return report.to_dict()["total"]["inferences_per_s"]


@pytest.mark.parametrize("parallel", ["data", "pipeline"])
@pytest.mark.parametrize("batch", [1, 3])
def test_one_chip_serves_as_many_inferences_a_second_as_simulate(parallel: str,
                                                                 batch: int) -> None:
    report = _report(1)
    run = simaccel.partition_model(report, report.hardware, parallel, batch)
    assert run.inferences == 4 * batch
    # one chip: `batch` runs take `batch` times one run's latency, 4 inferences each
    assert run.batch_cycles == batch * report.results.total.cycles
    assert run.inferences_per_s == pytest.approx(_simulate_rate(report), rel=1e-12)
    row = partition_row(report, {"parallel": parallel, "batch": batch})
    assert row["parallel_inferences_per_s"] == pytest.approx(_simulate_rate(report),
                                                             rel=1e-12)


def test_partition_verb_prints_simulates_inferences_a_second(tmp_path, capsys) -> None:
    from simaccel.cli import main

    data = json.loads((WORKLOADS / "mnist_cnn.json").read_text())
    data["inputs"][0]["shape"][0] = 4
    (tmp_path / "mnist_b4.json").write_text(json.dumps(data))
    argv = ["partition", str(tmp_path / "mnist_b4.json"), "--hw", "tpu_v4_like_x8",
            "--parallel", "data", "--batch", "2"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    report = simaccel.simulate(_model(), simaccel.load_hardware("tpu_v4_like_x8"), check=False)
    # 8 chips, 2 runs of 4: one run's time for 8 inferences, twice simulate's rate
    assert data["inferences"] == 8
    assert data["inferences_per_s"] == pytest.approx(2 * _simulate_rate(report), rel=1e-12)
    assert f"{data['inferences_per_s']:,.1f} inferences/s" in text
    assert "one run (4 inference(s))" in text and "batch of 2 run(s), 8 inference(s)" in text


def test_eight_chips_of_data_parallelism_serve_eight_runs_in_one_runs_time() -> None:
    report = _report(8)
    run = simaccel.partition_model(report, report.hardware, "data", 8)
    assert run.inferences == 32 and run.batch_cycles == report.results.total.cycles
    assert run.inferences_per_s == pytest.approx(8 * _simulate_rate(report), rel=1e-12)
    row = partition_row(report, {"parallel": "data", "batch": 8})
    assert row["parallel_inferences_per_s"] == pytest.approx(run.inferences_per_s,
                                                             rel=1e-12)
