"""simaccel against SCALE-Sim 3.0.0 with ideal memory: every row of setA.csv, exactly.

setA.csv holds SCALE-Sim's figures for 12 layers (conv and GEMM topologies) on 8×8, 32×32,
128×128 and 16×64 arrays under OS, WS and IS. With unlimited buffers and bandwidth simaccel's
compute cycles, total cycles, folds and mapping efficiency must equal SCALE-Sim's, and its
SRAM and DRAM access counts must match SCALE-Sim's stall-free counts.
"""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path

import pytest

import simaccel
from simaccel.cli import main
from tests.helpers import ideal_hw, strict_json

DATA = Path(__file__).resolve().parent / "data"
ROWS = list(csv.DictReader((DATA / "setA.csv").open()))


@cache
def _simulated(kind: str, rows: int, cols: int, dataflow: str) -> dict[str, dict]:
    topology = DATA / ("setA_conv_topology.csv" if kind == "conv" else "setA_gemm_topology.csv")
    report = simaccel.simulate(simaccel.load_model(topology), ideal_hw(rows, cols, dataflow),
                               check=False)
    return {layer["name"]: layer for layer in report.to_dict()["layers"]}


def _layer(row: dict) -> dict:
    return _simulated(row["kind"], int(row["array_rows"]), int(row["array_cols"]),
                      row["dataflow"])[row["layer"]]


def _id(row: dict) -> str:
    return f"{row['layer']}-{row['array_rows']}x{row['array_cols']}-{row['dataflow']}"


def test_reference_covers_all_arrays_and_dataflows() -> None:
    assert len(ROWS) == 142
    assert {(r["array_rows"], r["array_cols"], r["dataflow"]) for r in ROWS} == {
        (a, b, d) for a, b in (("8", "8"), ("32", "32"), ("128", "128"), ("16", "64"))
        for d in ("os", "ws", "is")}


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_cycles_equal_scalesim(row: dict) -> None:
    layer = _layer(row)
    assert layer["compute_cycles"] == int(row["total_cycles"])
    assert layer["cycles"] == int(row["total_cycles"])
    assert layer["stall_cycles"] == int(row["stall_cycles"]) == 0


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_gemm_shape_macs_and_efficiency_equal_scalesim(row: dict) -> None:
    layer = _layer(row)
    groups = int(row["C"]) if "DP" in row["layer"] else 1
    assert (layer["kernel"]["m"], layer["kernel"]["k"], layer["kernel"]["n"]) == (
        int(row["gemm_M"]), int(row["gemm_K"]), int(row["gemm_N"]))
    assert layer["kernel"]["groups"] == groups
    assert layer["macs"] == int(row["macs"])
    assert layer["mapping_efficiency"] * 100 == pytest.approx(float(row["mapping_eff_pct"]),
                                                              rel=1e-9)
    assert layer["utilization"] * 100 == pytest.approx(float(row["overall_util_pct"]), rel=1e-9)


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_folds_follow_the_dataflow_mapping(row: dict) -> None:
    """OS folds M×N, WS folds K×N, IS folds K×M (per group)."""
    ra, ca = int(row["array_rows"]), int(row["array_cols"])
    m, k, n = int(row["gemm_M"]), int(row["gemm_K"]), int(row["gemm_N"])
    rows_dim, cols_dim = {"os": (m, n), "ws": (k, n), "is": (k, m)}[row["dataflow"]]
    groups = int(row["C"]) if "DP" in row["layer"] else 1
    assert _layer(row)["folds"] == math.ceil(rows_dim / ra) * math.ceil(cols_dim / ca) * groups


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_sram_access_counts_equal_scalesim(row: dict) -> None:
    """Ifmap and filter SRAM reads are SCALE-Sim's exactly (one byte per int8 word). Ofmap
    writes too for WS/IS (a partial sum per K-fold); for OS SCALE-Sim also counts
    folds × (rows + cols) padding writes of its trace, which are not data."""
    from simaccel.kernels import GemmKernel
    from simaccel.systolic import plan_folds, sram_accesses

    layer = _layer(row)
    k = layer["kernel"]
    kernel = GemmKernel(name="x", op="conv2d", m=k["m"], k=k["k"], n=k["n"], groups=k["groups"],
                        ifmap_elements=0, filter_elements=0, ofmap_elements=0)
    hw = ideal_hw(int(row["array_rows"]), int(row["array_cols"]), row["dataflow"])
    use = sram_accesses(kernel, plan_folds(kernel, hw.array))
    assert use.ifmap_reads == int(row["sram_ifmap_reads"])
    assert use.filter_reads == int(row["sram_filter_reads"])
    writes = int(row["sram_ofmap_writes"])
    if row["dataflow"] == "os":
        writes -= layer["folds"] * (int(row["array_rows"]) + int(row["array_cols"]))
    assert use.ofmap_writes == writes


@pytest.mark.parametrize("row", [r for r in ROWS if r["dataflow"] == "os"], ids=_id)
def test_compulsory_dram_reads_equal_scalesim(row: dict) -> None:
    """With ideal memory each operand crosses DRAM once: SCALE-Sim's ifmap and filter DRAM
    reads are the real tensors (not the im2col stream), its OS ofmap writes the outputs."""
    layer = _layer(row)
    assert layer["dram_read_bytes"] == int(row["dram_ifmap_reads"]) + int(row["dram_filter_reads"])
    assert layer["dram_write_bytes"] == int(row["dram_ofmap_writes"])


def test_cli_runs_scalesim_files_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    """`simaccel simulate topology.csv --hw scale.cfg --json` on SCALE-Sim's own files."""

    code = main(["simulate", str(DATA / "setA_gemm_topology.csv"), "--hw",
                 str(DATA / "example_ideal_8x8_os.cfg"), "--json"])
    assert code == 0
    report = strict_json(capsys.readouterr().out)  # CALC: unlimited bandwidth is null
    assert report["hardware"]["dram"]["bytes_per_cycle"] is None
    assert report["hardware"]["derived"]["dram_bytes_per_cycle"] is None
    cycles = {layer["name"]: layer["cycles"] for layer in report["layers"]}
    expected = {r["layer"]: int(r["total_cycles"]) for r in ROWS
                if r["kind"] == "gemm" and r["array_rows"] == "8" and r["dataflow"] == "os"}
    assert cycles == expected
