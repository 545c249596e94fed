"""DESIGN.md's invariants on every shipped workload × every shipped hardware config."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pytest

import simaccel
from simaccel.frontends.hardware_toml import shipped_configs
from simaccel.graph import build_graph
from tests.helpers import strict_json

WORKLOADS = sorted((Path(__file__).resolve().parent.parent / "workloads").glob("*.json"))
CONFIGS = sorted(shipped_configs())


@cache
def _report(workload: Path, config: str) -> dict:
    report = simaccel.simulate(simaccel.load_model(workload), simaccel.load_hardware(config),
                               check=False)
    return strict_json(report.to_json())  # every report is RFC 8259 JSON


def _model_macs(workload: Path) -> int:
    """MACs counted from the graph's shapes, independently of the lowering."""
    graph = build_graph(simaccel.load_model(workload))
    total = 0
    for name in graph.order:
        layer, out = graph.layer(name), graph.shapes[name]
        ins = graph.input_shapes(name)
        if layer.op == "conv2d":
            total += math.prod(out) * layer.kernel[0] * layer.kernel[1] * ins[0][3] // layer.groups
        elif layer.op in ("dense", "matmul"):
            total += math.prod(out) * ins[0][-1]
    return total


def test_every_shipped_config_and_workload_is_covered() -> None:
    assert {"scalesim_default", "tpu_v1", "gemmini", "edge_tpu_like", "teaching_8x8"} <= set(
        CONFIGS)
    assert len(WORKLOADS) >= 9


# The TPU paper's workloads (tpu_*: up to 23 GMACs at batch 8-200) on the 8×8 teaching
# array take ~50 s of tiles between them; they run on every other shipped config.
PAIRS = [pytest.param(w, c, id=f"{w.stem}-{c}") for c in CONFIGS for w in WORKLOADS
         if not (w.stem.startswith("tpu_") and c == "teaching_8x8")]


@pytest.mark.parametrize(("workload", "config"), PAIRS)
def test_invariants(workload: Path, config: str) -> None:
    report = _report(workload, config)
    hw = report["hardware"]
    pes = hw["array"]["rows"] * hw["array"]["cols"]
    total, layers = report["total"], report["layers"]

    assert sum(r["macs"] for r in layers) == total["macs"] == _model_macs(workload)
    for row in layers:
        assert row["cycles"] >= row["compute_cycles"] >= 0
        assert row["stall_cycles"] == row["cycles"] - row["compute_cycles"] >= 0
        if row["kernel"]["type"] == "gemm":
            assert 0 < row["utilization"] <= row["mapping_efficiency"] <= 1
            assert row["cycles"] >= row["macs"] / pes
        for key in ("sram_read_bytes", "sram_write_bytes", "dram_read_bytes",
                    "dram_write_bytes"):
            assert row[key] >= 0
    assert 0 < total["utilization"] <= total["mapping_efficiency"] <= 1
    bytes_per_cycle = hw["derived"]["dram_bytes_per_cycle"] or float("inf")  # null: unlimited
    dram = total["dram_read_bytes"] + total["dram_write_bytes"]
    cores = hw["chip"]["cores"]
    assert total["cycles"] >= max(total["macs"] / (pes * cores), dram / bytes_per_cycle)
    assert total["cycles"] == max(r["end_cycle"] for r in layers)
    # each core's array runs one kernel at a time; the vector unit may run beside it
    array = sum(r["compute_cycles"] for r in layers if r["kernel"]["type"] == "gemm")
    assert array <= cores * total["compute_cycles"]
    assert total["compute_cycles"] <= sum(r["compute_cycles"] for r in layers)
    for key in ("dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes"):
        assert total[key] == sum(r[key] for r in layers)
    assert total["latency_s"] == pytest.approx(total["cycles"] / (hw["clock_mhz"] * 1e6))
    assert total["tops"] <= hw["derived"]["peak_tops"]
    for key in ("mac", "sram", "dram", "vector", "static", "total"):
        assert all(row["energy_pj"][key] >= 0 for row in layers)
        assert total["energy_pj"][key] == pytest.approx(sum(r["energy_pj"][key] for r in layers))


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_dram_traffic_covers_weights_and_model_io(workload: Path) -> None:
    """Compulsory traffic: every weight is read and the model's outputs are written."""
    report = _report(workload, "scalesim_default")
    graph = build_graph(simaccel.load_model(workload))
    outputs = sum(math.prod(graph.shapes[name]) for name in graph.model.outputs)
    weights = 0
    for name in graph.order:
        layer = graph.layer(name)
        if layer.op == "conv2d":
            weights += layer.kernel[0] * layer.kernel[1] * graph.input_shapes(name)[0][3] \
                // layer.groups * layer.filters
        elif layer.op == "dense":
            weights += graph.input_shapes(name)[0][-1] * layer.units
    assert report["total"]["dram_read_bytes"] >= weights  # int8: one byte per weight
    assert report["total"]["dram_write_bytes"] >= outputs


def test_same_inputs_give_a_byte_identical_report(root: Path) -> None:
    path = root / "workloads" / "mobilenet_v2.json"
    first = simaccel.simulate(simaccel.load_model(path), simaccel.load_hardware("gemmini"))
    second = simaccel.simulate(simaccel.load_model(path), simaccel.load_hardware("gemmini"))
    assert first.to_json() == second.to_json()
    assert first.to_csv() == second.to_csv()
